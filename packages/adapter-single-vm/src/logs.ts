import { GreenticError } from "@greentic/deploy-spec";
import type { DeployerLogLine, ReadLogsResult } from "@greentic/env-packs";
import type { HostExecutor } from "./executor.js";
import { backendOf } from "./proxy.js";

/** A systemd unit whose journal `op logs` reads, and the source its lines are shown under. */
export interface JournalSource {
  /** `router`, `rollout`, or a revision id. */
  source: string;
  unit: string;
}

/** Options of {@link readJournal}. */
export interface ReadJournalOptions {
  /** The newest N entries (ignored with `after`). */
  lines: number;
  /** Only entries at or after this time (epoch ms). */
  sinceMs?: number | undefined;
  /** Only entries after this journal cursor (following). */
  after?: string | undefined;
}

interface JournalEntry {
  __CURSOR?: string;
  __REALTIME_TIMESTAMP?: string;
  MESSAGE?: string | number[] | null;
  _SYSTEMD_UNIT?: string;
  /** Set by systemd itself on its messages about a unit (started, stopped, failed). */
  UNIT?: string;
}

/** journald stores a message that is not valid UTF-8 as an array of bytes. */
function messageOf(message: JournalEntry["MESSAGE"]): string {
  if (Array.isArray(message)) return Buffer.from(message).toString("utf8");
  return message ?? "";
}

/**
 * Reads the journal of the given units on the host behind `executor` (`journalctl -o json`,
 * the units merged in time order): the newest `lines` entries, or every entry after the cursor
 * `after` when following. Works wherever the executor runs commands: this host, a machine
 * entered with nsenter, a VM over SSH. The answer's cursor continues where it ended; when no
 * entry matched yet, it is the journal's current end, so a follower sees only what comes next.
 */
export async function readJournal(
  executor: HostExecutor,
  sources: readonly JournalSource[],
  options: ReadJournalOptions,
): Promise<ReadLogsResult> {
  const described = sources.map((s) => ({ source: s.source, unit: s.unit }));
  if (executor.mode !== "execute" || sources.length === 0) return { sources: described, lines: [], cursor: null };
  const args = ["--no-pager", "--quiet", "-o", "json", ...sources.flatMap((s) => ["-u", s.unit])];
  // The newest N: newest first (`-r`), since `-n` with `--since` would count from the oldest.
  if (options.after !== undefined) args.push(`--after-cursor=${options.after}`);
  else args.push("-r", "-n", String(options.lines));
  // journalctl takes whole seconds after `@`; the exact bound is applied to each entry below.
  if (options.sinceMs !== undefined) args.push("--since", `@${Math.floor(options.sinceMs / 1000)}`);
  const r = await executor.run("journalctl", args, { timeoutMs: 30_000 });
  const json = r.stdout.split("\n").filter((l) => l.startsWith("{"));
  if (options.after === undefined) json.reverse();
  // journalctl exits 1 with "-- No entries --" when a unit has never logged: no lines, not a failure.
  if (r.code !== 0 && json.length === 0 && !/No entries/.test(r.stdout + r.stderr))
    throw new GreenticError(
      "io",
      `journalctl on the VM failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`,
      {
        hint: "op logs reads the systemd journal of the deployment's units: check that journald runs on the VM",
      },
    );
  const byUnit = new Map(sources.map((s) => [s.unit, s.source]));
  const lines: DeployerLogLine[] = [];
  let cursor: string | null = null;
  for (const text of json) {
    let entry: JournalEntry;
    try {
      entry = JSON.parse(text) as JournalEntry;
    } catch {
      continue; // a line cut by the timeout; the cursor stays before it
    }
    cursor = entry.__CURSOR ?? cursor;
    const at = Number(entry.__REALTIME_TIMESTAMP) / 1000;
    if (options.sinceMs !== undefined && at < options.sinceMs) continue;
    const unit =
      entry._SYSTEMD_UNIT !== undefined && byUnit.has(entry._SYSTEMD_UNIT) ? entry._SYSTEMD_UNIT : entry.UNIT;
    lines.push({
      source: byUnit.get(unit ?? "") ?? unit ?? "journal",
      ts: Number.isFinite(at) ? new Date(at).toISOString() : null,
      line: messageOf(entry.MESSAGE),
    });
  }
  if (cursor === null) cursor = options.after ?? (await journalEnd(executor));
  return { sources: described, lines, cursor };
}

/** The cursor of the journal's newest entry (where a follower starts when nothing matched yet). */
async function journalEnd(executor: HostExecutor): Promise<string | null> {
  const r = await executor.run("journalctl", ["--no-pager", "--quiet", "-n", "0", "--show-cursor"], {
    timeoutMs: 30_000,
  });
  return /^-- cursor: (.+)$/m.exec(r.stdout)?.[1]?.trim() ?? null;
}

// --- The router's request log -----------------------------------------------------------------
//
// HAProxy logs every request to its in-memory ring (proxy.ts: the rollout reads its timings from
// there), never to journald: a line per request through journald would cost the proxy a write
// per request and journald's CPU beside it, and under load journald's rate limit would drop the
// requests together with HAProxy's own messages. So `op logs --router` reads the ring through
// the proxy's admin socket and merges its lines with the unit's journal. The ring holds the most
// recent requests (4 MiB: tens of thousands of lines) since HAProxy last (re)loaded its
// configuration.
//
// For the same reasons a canary revision's runtime writes no line per request
// (`GREENTIC_ACCESS_LOG=off` in its env file, render.ts): `op logs REV` shows the ring's lines of
// that revision's backend among its unit's journal, under the revision's name.

/**
 * One request of the ring, as `op logs` shows it: every request under `router`, or with
 * `revision`, only that revision's requests, under its name (undefined for the others).
 */
export function requestLogLine(raw: string, revision?: string): DeployerLogLine | undefined {
  const m = /^(\S+) (-?\d+) (-?\d+) (\d+) (\S+) (\S+) (.*)$/.exec(raw);
  if (m === null) return undefined;
  const [, backend, status, total, at, client, method, path] = m as unknown as string[];
  const ts = new Date(Number(at)).toISOString();
  if (revision !== undefined)
    return backend === backendOf(revision)
      ? { source: revision, ts, line: `${client} ${method} ${path} ${status} ${total} ms via router` }
      : undefined;
  const to = backend!.startsWith("r_")
    ? `revision ${backend!.slice(2)}`
    : backend === "gt_none"
      ? "no revision (503)"
      : backend === "gt_unrouted"
        ? "no route"
        : backend;
  return { source: "router", ts, line: `${client} ${method} ${path} ${status} ${total} ms ${to}` };
}

/** Where a follower of the router's log is: the journal's cursor and the ring's last line. */
interface RouterPosition {
  /** The journal cursor (`--after-cursor`), or null before any. */
  j: string | null;
  /** How many ring lines were read, and the last of them (to find it again). */
  n: number;
  l: string | null;
}

function positionOf(after: string | undefined): RouterPosition | undefined {
  if (after === undefined || !after.startsWith("{")) return undefined;
  try {
    return JSON.parse(after) as RouterPosition;
  } catch {
    return undefined;
  }
}

/**
 * The lines of the ring after the one a follower read last (`last`, the `count`th then). The
 * ring only grows until it wraps or HAProxy reloads: the last line is looked for where it was,
 * then anywhere; a ring without it is a new one (a reload), whose lines are all new.
 */
export function ringAfter(lines: readonly string[], read: { n: number; l: string | null }): string[] {
  if (read.l === null) return [...lines];
  const at = lines[read.n - 1] === read.l ? read.n - 1 : lines.lastIndexOf(read.l);
  return lines.slice(at + 1);
}

/**
 * {@link readJournal} of `sources` (the router's unit among them, or the one revision's unit),
 * with the requests of the proxy's ring (`ring()` answers HAProxy's `show events` text) merged
 * in time order: all of them, or with `revision` only that revision's ({@link requestLogLine}).
 * The cursor it answers carries both positions; a follower gets each request once, and after a
 * reload (a new, empty ring) the requests the new ring holds.
 */
export async function readJournalAndRequests(
  executor: HostExecutor,
  sources: readonly JournalSource[],
  options: ReadJournalOptions,
  ring: () => Promise<string>,
  revision?: string,
): Promise<ReadLogsResult> {
  const following = options.after !== undefined;
  // A journal cursor alone (an earlier op's): the ring is followed from its current end.
  const from = positionOf(options.after) ?? (following ? { j: options.after!, n: -1, l: null } : undefined);
  const journal = await readJournal(executor, sources, {
    ...options,
    after: from === undefined ? undefined : (from.j ?? undefined),
  });
  // Without a journal position yet, a follower's first answer only tells where the journal ends.
  if (from !== undefined && from.j === null) journal.lines = [];
  if (executor.mode !== "execute") return journal;
  // A proxy that does not run has no ring: its journal says why.
  const raw = (await ring().catch(() => ""))
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => requestLogLine(l) !== undefined);
  const fresh = from === undefined ? raw : from.n === -1 ? [] : ringAfter(raw, from);
  // The position counts every line of the ring; only the lines shown are filtered.
  let requests = fresh.flatMap((l) => requestLogLine(l, revision) ?? []);
  if (options.sinceMs !== undefined) requests = requests.filter((r) => Date.parse(r.ts!) >= options.sinceMs!);
  if (from === undefined) requests = requests.slice(-options.lines);
  // Merged by time; each side is in order already, so a stable sort keeps each side's order.
  const lines = [...journal.lines, ...requests].sort((a, b) => (a.ts ?? "").localeCompare(b.ts ?? ""));
  const position: RouterPosition = { j: journal.cursor, n: raw.length, l: raw.at(-1) ?? null };
  return {
    sources: journal.sources,
    lines: from === undefined ? lines.slice(-options.lines) : lines,
    cursor: JSON.stringify(position),
  };
}
