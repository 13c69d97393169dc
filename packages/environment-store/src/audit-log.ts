import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { open, truncate } from "node:fs/promises";
import { join } from "node:path";
import { GreenticError, sha256Hex } from "@greentic/deploy-spec/documents";
import { assertNoSymlinks, ensureDir, errnoCode, fileKind, ioError, oddFile, writeReplace } from "./fs-safe.js";
import type { AuditEventRecord, AuditQuery, AuditVerification } from "./types.js";

export const AUDIT_FILE = "events.jsonl";
/** `{last_hash, lines}` of the newest event: lets an append detect a deleted or edited tail in O(1). */
export const AUDIT_HEAD_FILE = "head.json";

interface AuditHead {
  schema: "greentic.audit-head.v1";
  last_hash: string;
  lines: number;
}

interface Tail {
  /** Bytes of the last complete line, without its newline. */
  line: string | undefined;
  /** File size after dropping a torn (newline-less) tail. */
  size: number;
}

/** Reads the last complete line, reading only the end of the file; truncates a torn final line. */
async function readTail(file: string, repair: boolean): Promise<Tail> {
  let handle;
  try {
    handle = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { line: undefined, size: 0 };
    throw error;
  }
  try {
    const { size } = fstatSync(handle);
    let chunk = 64 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(handle, buf, 0, buf.length, start);
      let end = buf.length;
      if (end > 0 && buf[end - 1] !== 0x0a) {
        // A crash mid-append leaves a line without its newline: it was never committed.
        const lastNl = buf.lastIndexOf(0x0a);
        if (lastNl < 0 && start > 0) {
          chunk *= 4;
          continue;
        }
        end = lastNl + 1;
        if (repair) await truncate(file, start + end);
      }
      const body = buf.subarray(0, Math.max(0, end - 1));
      const prevNl = body.lastIndexOf(0x0a);
      if (prevNl < 0 && start > 0) {
        chunk *= 4;
        continue;
      }
      const line = end === 0 ? undefined : body.subarray(prevNl + 1).toString("utf8");
      return { line, size: start + end };
    }
  } finally {
    closeSync(handle);
  }
}

async function readHead(dir: string): Promise<AuditHead | undefined> {
  try {
    return JSON.parse(readFileSync(join(dir, AUDIT_HEAD_FILE), "utf8")) as AuditHead;
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw new GreenticError("integrity", `${join(dir, AUDIT_HEAD_FILE)} is unreadable: ${(error as Error).message}`, {
      path: join(dir, AUDIT_HEAD_FILE),
      hint: "run verifyAudit; if the log verifies, delete head.json and it is rebuilt on the next append",
    });
  }
}

function prevHashOf(line: string): string | undefined {
  try {
    const value = (JSON.parse(line) as { prev_hash?: unknown }).prev_hash;
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

async function countLines(file: string): Promise<number> {
  let count = 0;
  await scanLines(file, () => {
    count++;
  });
  return count;
}

/**
 * Hash, line count and byte size of the log after checking its end against head.json: a
 * deleted or edited tail is an `integrity` error rather than something to chain over. A head
 * that is behind (crashes between appends and head updates, or a paused writer's late head
 * write) is accepted when every line after the one it names chains to its predecessor (or has
 * no prev_hash at all: the reference's appends), so any number of such crashes never wedges the log.
 */
export async function checkedTail(
  dir: string,
  repair: boolean,
): Promise<{ tailHash: string | undefined; lines: number; size: number }> {
  const file = join(dir, AUDIT_FILE);
  const tail = await readTail(file, repair);
  const head = await readHead(dir);
  const tailHash = tail.line === undefined ? undefined : sha256Hex(tail.line);
  if (head === undefined)
    return { tailHash, lines: tail.line === undefined ? 0 : await countLines(file), size: tail.size };
  if (head.last_hash === tailHash) return { tailHash, lines: head.lines, size: tail.size };
  // The previous append landed but its head update did not.
  if (tail.line !== undefined && prevHashOf(tail.line) === head.last_hash)
    return { tailHash, lines: head.lines + 1, size: tail.size };
  const hashes: string[] = [];
  const prevs: (string | undefined)[] = [];
  await scanLines(file, (line) => {
    hashes.push(sha256Hex(line));
    prevs.push(prevHashOf(line));
  });
  const at = head.lines - 1;
  const behind =
    at >= 0 &&
    hashes[at] === head.last_hash &&
    // A line without prev_hash after the head was appended by a writer without the chain (the
    // reference shares the log): it is accepted, and the line after it must chain to it.
    hashes.slice(at + 1).every((_, k) => prevs[at + 1 + k] === undefined || prevs[at + 1 + k] === hashes[at + k]);
  if (behind) return { tailHash, lines: hashes.length, size: tail.size };
  throw new GreenticError(
    "integrity",
    `${file}: the last line does not match ${AUDIT_HEAD_FILE} (events were deleted or edited); refusing to append`,
    {
      path: file,
      hint: "run `op audit verify` to find the first bad line; the damaged log must be set aside (renamed) before mutations resume",
    },
  );
}

/** Writes head.json for a log of `lines` lines ending with the line hashing to `lastHash` (no fsync: it is rebuilt). */
async function writeHead(root: string, dir: string, lastHash: string, lines: number): Promise<void> {
  const head: AuditHead = { schema: "greentic.audit-head.v1", last_hash: lastHash, lines };
  await writeReplace(root, join(dir, AUDIT_HEAD_FILE), `${JSON.stringify(head)}\n`);
}

/** An event's line in the log, as written. */
function lineOf(event: AuditEventRecord): Buffer {
  return Buffer.from(`${JSON.stringify(event)}\n`);
}

/**
 * Whether the log in `dir` holds `event`'s line, byte for byte, at `offset`: a committed event
 * in place. False when the log is missing, odd or unreadable.
 */
export function hasAuditLineAt(dir: string, event: AuditEventRecord, offset: number): boolean {
  const line = lineOf(event);
  let fd: number;
  try {
    fd = openSync(join(dir, AUDIT_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    if (!fstatSync(fd).isFile()) return false;
    const have = Buffer.alloc(line.length);
    return readSync(fd, have, 0, have.length, offset) === line.length && have.equals(line);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a committed event's line at its recorded byte offset (see `CommitRecord`). Idempotent:
 * a line already there is left alone, so a recovery and a paused writer that resumes late
 * write the same bytes at the same place. A log shorter than the offset lost events.
 */
export async function writeAuditLineAt(
  root: string,
  dir: string,
  event: AuditEventRecord,
  offset: number,
  linesBefore: number,
): Promise<void> {
  const file = join(dir, AUDIT_FILE);
  const line = lineOf(event);
  await ensureDir(root, dir);
  await assertNoSymlinks(dir, file);
  // Read first: a line already in place needs no write access (an immutable log stays readable).
  let size = 0;
  let readFd: number | undefined;
  try {
    readFd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw ioError("opening", file, error, "make the audit log readable again");
  }
  let torn = false;
  if (readFd !== undefined) {
    try {
      const st = fstatSync(readFd);
      if (!st.isFile()) throw oddFile(file, fileKind(st));
      size = st.size;
      if (size > offset) {
        const have = Buffer.alloc(Math.min(size - offset, line.length));
        readSync(readFd, have, 0, have.length, offset);
        if (have.equals(line)) return;
        if (have.includes(0x0a))
          throw new GreenticError(
            "integrity",
            `${file}: byte ${offset} holds another event than committed event ${event.event_id}`,
            { path: file, hint: "`op audit verify` shows the damage" },
          );
        torn = true;
      }
    } finally {
      closeSync(readFd);
    }
  }
  let handle;
  if (size < offset)
    throw new GreenticError(
      "integrity",
      `${file} is ${size} bytes but committed event ${event.event_id} (generation ${event.new_generation}) belongs at byte ${offset}: events were deleted`,
      { path: file, hint: "restore the audit log from a copy; `op audit verify` shows the damage" },
    );
  try {
    handle = await open(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      0o600,
    );
  } catch (error) {
    throw ioError("opening", file, error, "make the audit log writable again");
  }
  try {
    if (torn) await handle.truncate(offset); // a torn line left by a crash
    // The log ends where this event goes: it must end with the line head.json names (a tail
    // deleted by hand is refused, not papered over by re-adding the newest event).
    await checkedTail(dir, false);
    await handle.write(line, 0, line.length, offset);
    if ((await handle.stat()).size !== offset + line.length) return; // a later writer has moved on
  } catch (error) {
    if (error instanceof GreenticError) throw error;
    throw ioError("writing", file, error, "make the audit log writable again");
  } finally {
    await handle.close();
  }
  await writeHead(root, dir, sha256Hex(line.subarray(0, -1).toString("utf8")), linesBefore + 1);
}

/**
 * Appends one event to `<dir>/events.jsonl` with `prev_hash` = SHA-256 of the previous line,
 * then fdatasyncs. Must run under the environment lock. Before appending it checks that the
 * file's last line is the one recorded in head.json, so a deleted or edited tail is refused
 * instead of being silently chained over.
 */
export async function appendAuditEvent(root: string, dir: string, event: AuditEventRecord): Promise<AuditEventRecord> {
  const file = join(dir, AUDIT_FILE);
  try {
    await ensureDir(root, dir);
    const { tailHash, lines } = await checkedTail(dir, true);
    const chained: AuditEventRecord = { ...event };
    if (tailHash !== undefined) chained.prev_hash = tailHash;
    const line = JSON.stringify(chained);
    const handle = await open(
      file,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await handle.write(`${line}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await writeHead(root, dir, sha256Hex(line), lines + 1);
    return chained;
  } catch (error) {
    if (error instanceof GreenticError && error.kind === "integrity") throw error;
    throw new GreenticError(
      "audit",
      `appending to ${file} failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        path: file,
        hint: "make the audit directory writable again",
        cause: error,
      },
    );
  }
}

/**
 * The `prev_hash` the next appended event will carry (undefined for an empty log), after the
 * same tail checks as an append. Lets a caller record the chained event before appending it.
 */
export async function nextPrevHash(dir: string): Promise<string | undefined> {
  return (await checkedTail(dir, false)).tailHash;
}

/** The last event, if any and parseable (tells whether a journalled event landed). */
export async function lastAuditEvent(dir: string): Promise<AuditEventRecord | undefined> {
  const tail = await readTail(join(dir, AUDIT_FILE), false);
  if (tail.line === undefined) return undefined;
  try {
    return JSON.parse(tail.line) as AuditEventRecord;
  } catch {
    return undefined;
  }
}

/** Calls `onLine` for each complete line, streaming the file in large chunks. */
export async function scanLines(file: string, onLine: (line: string, lineNo: number) => void): Promise<void> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return;
    throw ioError("reading", file, error);
  }
  try {
    const buf = Buffer.alloc(4 * 1024 * 1024);
    let carry = "";
    let lineNo = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const text = carry + buf.toString("utf8", 0, bytesRead);
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl < 0) break;
        onLine(text.slice(start, nl), ++lineNo);
        start = nl + 1;
      }
      carry = text.slice(start);
    }
    // A final line without newline is a torn append, not an event.
  } finally {
    await handle.close();
  }
}

/**
 * Lists events in file order, filtered. A cheap substring test rules lines out before any
 * JSON.parse, so a selective filter over 100 000 events parses only the candidates. With
 * `limit`, the newest `limit` matches are returned.
 */
export async function listAuditEvents(
  dir: string,
  query: AuditQuery = {},
  pending?: AuditEventRecord,
): Promise<AuditEventRecord[]> {
  const needles: string[] = [];
  if (query.noun !== undefined) needles.push(`"noun":${JSON.stringify(query.noun)}`);
  if (query.verb !== undefined) needles.push(`"verb":${JSON.stringify(query.verb)}`);
  if (query.actor !== undefined) needles.push(`"user":${JSON.stringify(query.actor)}`);
  const since = query.since === undefined ? undefined : new Date(query.since).toISOString();
  if (since !== undefined && since === "Invalid Date")
    throw new GreenticError("invalid-argument", `since ${String(query.since)} is not a date`);
  const limit = query.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new GreenticError("invalid-argument", `limit must be a positive integer, got ${String(limit)}`, {
      hint: "pass e.g. limit: 100",
    });
  }
  const out: AuditEventRecord[] = [];
  let pendingSeen = pending === undefined;
  const onLine = (line: string): void => {
    for (const needle of needles) if (!line.includes(needle)) return;
    if (since !== undefined) {
      const at = line.indexOf('"ts":"');
      // Compare at second resolution only: other writers may use other fraction widths.
      if (at >= 0 && line.slice(at + 6, at + 25) < since.slice(0, 19)) return;
    }
    let event: AuditEventRecord;
    try {
      event = JSON.parse(line) as AuditEventRecord;
    } catch {
      return;
    }
    if (query.noun !== undefined && event.noun !== query.noun) return;
    if (query.verb !== undefined && event.verb !== query.verb) return;
    if (query.actor !== undefined && event.actor?.user !== query.actor) return;
    if (since !== undefined && !(new Date(event.ts).getTime() >= new Date(since).getTime())) return;
    out.push(event);
    if (limit !== undefined && out.length > limit * 2) out.splice(0, out.length - limit);
  };
  await scanLines(join(dir, AUDIT_FILE), (line) => {
    if (!pendingSeen && line.includes(pending!.event_id)) pendingSeen = true;
    onLine(line);
  });
  // A committed generation's event not yet written to the log (see `CommitRecord`) is listed too.
  if (!pendingSeen) onLine(JSON.stringify(pending));
  return limit === undefined ? out : out.slice(-limit);
}

/**
 * Walks the hash chain and reports the first bad line. A mismatch is classified by looking at
 * its neighbours: a line whose successor chains to its predecessor was inserted; a prev_hash
 * naming a later line means reordering; a generation gap means deletion; otherwise an edit.
 */
export async function verifyAuditLog(dir: string): Promise<AuditVerification> {
  const file = join(dir, AUDIT_FILE);
  const lines: string[] = [];
  await scanLines(file, (line) => {
    lines.push(line);
  });
  const chain = verifyAuditChain(lines);
  if (!chain.ok) return chain;
  const hashes = lines.map((l) => sha256Hex(l));
  const head = await readHead(dir);
  if (head !== undefined) {
    const last = hashes[hashes.length - 1];
    if (head.lines > lines.length) {
      return {
        ok: false,
        lines: lines.length,
        line: lines.length + 1,
        reason: `${AUDIT_HEAD_FILE} records ${head.lines} events but the file has ${lines.length}: lines were deleted from the end`,
      };
    }
    // A head behind the log (a crash between an append and the head update) is not damage.
    if (last !== head.last_hash && hashes[head.lines - 1] !== head.last_hash) {
      return {
        ok: false,
        lines: lines.length,
        line: lines.length,
        reason: `line ${lines.length} does not match ${AUDIT_HEAD_FILE}: the end of the log was edited`,
      };
    }
  }
  return chain;
}

/**
 * The medium-free part of {@link verifyAuditLog}: the hash chain, duplicate events and
 * monotonic generations over the log's lines (each the exact JSON text of one event), in order.
 * Shared with stores that keep the log elsewhere than in a file.
 */
export function verifyAuditChain(lines: readonly string[]): AuditVerification {
  const hashes = lines.map((l) => sha256Hex(l));
  const position = new Map(hashes.map((h, i) => [h, i]));
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as AuditEventRecord;
    } catch {
      return undefined;
    }
  });
  const unchained: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const event = parsed[i];
    const lineNo = i + 1;
    if (!event)
      return {
        ok: false,
        lines: lines.length,
        line: lineNo,
        reason: `line ${lineNo} is not valid JSON: it was edited or torn`,
      };
    const prev = event.prev_hash;
    if (prev === undefined) {
      // Line 1 has nothing to chain to. Any later line without prev_hash was written by a writer
      // without the chain (the reference shares the log): it is named as unchained, not refused.
      // The next chained line must hash it, so one cannot be slipped in between chained lines.
      if (i > 0) unchained.push(lineNo);
      continue;
    }
    if (i > 0 && prev === hashes[i - 1]) continue;
    const at = position.get(prev);
    const reordered = {
      ok: false as const,
      lines: lines.length,
      line: lineNo,
      reason: `line ${lineNo} chains to line ${(at ?? 0) + 1}, not to line ${i}: lines were reordered`,
    };
    if (at !== undefined && at > i) return reordered;
    const next = parsed[i + 1];
    if (i > 0 && next?.prev_hash === hashes[i - 1]) {
      return {
        ok: false,
        lines: lines.length,
        line: lineNo,
        reason: `line ${lineNo} does not belong in the chain: it was inserted`,
      };
    }
    if (at !== undefined && at !== i - 1) return reordered;
    if (i === 0) {
      return {
        ok: false,
        lines: lines.length,
        line: 1,
        reason: "line 1 chains to a previous event that is not in the file: lines were deleted from the start",
      };
    }
    const before = parsed[i - 1];
    if (
      before?.new_generation !== undefined &&
      event.previous_generation !== undefined &&
      event.previous_generation > before.new_generation
    ) {
      return {
        ok: false,
        lines: lines.length,
        line: lineNo,
        reason: `line ${lineNo} follows generation ${before.new_generation} but starts from ${event.previous_generation}: lines were deleted before it`,
      };
    }
    return {
      ok: false,
      lines: lines.length,
      line: i,
      reason: `line ${i} does not hash to the prev_hash recorded by line ${lineNo}: it was edited (or a line after it deleted)`,
    };
  }
  // A chain can be intact and still wrong: a writer that lost its lock could have committed a
  // generation twice, or written an event twice.
  const ids = new Map<string, number>();
  let newest: { generation: number; line: number } | undefined;
  for (let i = 0; i < parsed.length; i++) {
    const event = parsed[i]!;
    const lineNo = i + 1;
    const seen = ids.get(event.event_id);
    if (seen !== undefined)
      return {
        ok: false,
        lines: lines.length,
        line: lineNo,
        reason: `line ${lineNo} repeats event ${event.event_id} of line ${seen}: an event was written twice`,
      };
    ids.set(event.event_id, lineNo);
    // Generations of unchained events are the reference's own counters (a split's, a binding's),
    // not the store's: only chained events take part in the monotonic check.
    const g = event.prev_hash === undefined ? undefined : event.new_generation;
    if (g === undefined) continue;
    if (newest !== undefined && g <= newest.generation)
      return {
        ok: false,
        lines: lines.length,
        line: lineNo,
        reason:
          g === newest.generation
            ? `line ${lineNo} commits generation ${g} again (line ${newest.line} already did): two writers committed one generation`
            : `line ${lineNo} commits generation ${g} after line ${newest.line} committed ${newest.generation}: generations go backwards`,
      };
    newest = { generation: g, line: lineNo };
  }
  return unchained.length === 0 ? { ok: true, lines: lines.length } : { ok: true, lines: lines.length, unchained };
}
