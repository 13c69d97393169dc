import { constants, readdirSync } from "node:fs";
import { link, open, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { GreenticError, sha256Hex } from "@greentic/deploy-spec/documents";
import { ensureDir, errnoCode, fsyncDir, ioError, readIfExists } from "./fs-safe.js";
import { isSideFile } from "./journal.js";
import { COMMITS_DIR, ENVIRONMENT_FILE, integrity, type StoreCore } from "./store-core.js";
import type { AuditEventRecord } from "./types.js";

/**
 * A commit record, `<env>/commits/<generation, 12 digits>.json`: everything one committed
 * generation wrote, in full. It is the commit point and the fence: a writer publishes it with
 * `link()`, which fails if the name exists, so of two writers that both believe they hold the
 * lock (one paused past the stale period) only one can commit a generation. Everything else
 * the commit writes (environment.json, side files, the ledger entry, the audit line at its
 * byte offset, the audit head) is derived from the record and written without fsync: after a
 * crash, or after a paused writer's late write, the next writer rewrites it from the newest
 * record, and readers compare `environment.json` with it (see `verified-read.ts`).
 *
 * The record also binds the environment document to the audit chain: it names the digest of
 * the document it committed and carries the chained audit event with its offset in the log.
 */
export interface CommitRecord {
  schema: "greentic.store-commit.v1";
  generation: number;
  /** The generation this commit replaced (null: the environment did not exist). */
  base_generation: number | null;
  /** The lock acquisition that committed it. */
  lock_id: string;
  /** SHA-256 of the `environment.json` bytes this commit wrote. */
  env_sha256: string;
  /** SHA-256 of the `environment.json` bytes it replaced (null: none). */
  replaces_sha256: string | null;
  /** SHA-256 of every side file as this commit leaves it (null: absent); the ledger is not a side file here. */
  state: Record<string, string | null>;
  /** Every file this commit wrote (environment.json and the ledger entry included); `content: null` removes it. */
  files: { path: string; content: string | null }[];
  /** The audit event, chained (`prev_hash` set), and where its line goes in `events.jsonl`. */
  event: AuditEventRecord;
  audit_offset: number;
  audit_lines: number;
}

/** Records kept: a writer paused through more commits than this is reported, not silently repaired. */
export const RECORDS_KEPT = 16;

const RECORD_NAME = /^(\d{12})\.json$/u;

export function recordName(generation: number): string {
  return `${String(generation).padStart(12, "0")}.json`;
}

/** Generations with a record, ascending. Missing directory: none (an environment from before records). */
export async function recordGenerations(core: StoreCore, envId: string): Promise<number[]> {
  const dir = join(core.envDir(envId), COMMITS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT") return [];
    if (code === "ENOTDIR") throw integrity(`${dir} is not a directory`, dir, "move it aside; it holds commit records");
    throw ioError("listing", dir, error);
  }
  const out: number[] = [];
  for (const name of names) {
    const m = RECORD_NAME.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

const isGeneration = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isHex = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{64}$/u.test(v);

/** Why `value` is not a commit record recovery may act on, or `undefined`. */
export function recordProblem(value: unknown, envId: string, generation: number): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "it is not a JSON object";
  const r = value as Record<string, unknown>;
  if (r.schema !== "greentic.store-commit.v1") return `schema is ${JSON.stringify(r.schema)}`;
  if (r.generation !== generation) return `generation ${JSON.stringify(r.generation)} does not match its name`;
  if (r.base_generation !== null && !(isGeneration(r.base_generation) && r.base_generation < generation))
    return `base_generation ${JSON.stringify(r.base_generation)} is not below ${generation}`;
  if (typeof r.lock_id !== "string") return "lock_id is missing";
  if (!isHex(r.env_sha256)) return "env_sha256 is not a SHA-256";
  if (r.replaces_sha256 !== null && !isHex(r.replaces_sha256)) return "replaces_sha256 is not a SHA-256";
  if (typeof r.state !== "object" || r.state === null || Array.isArray(r.state)) return "state is not an object";
  for (const [path, sha] of Object.entries(r.state as Record<string, unknown>)) {
    if (!isSideFile(path)) return `state names ${JSON.stringify(path)}, which is not a side file`;
    if (sha !== null && !isHex(sha)) return `state of ${path} is not a SHA-256`;
  }
  if (!Array.isArray(r.files)) return "files is not a list";
  const seen = new Set<string>();
  let env: string | undefined;
  for (const [i, f] of r.files.entries()) {
    if (typeof f !== "object" || f === null) return `files[${i}] is not an object`;
    const { path, content } = f as { path?: unknown; content?: unknown };
    if (typeof path !== "string" || (path !== ENVIRONMENT_FILE && !isSideFile(path)))
      return `files[${i}].path ${JSON.stringify(path)} is not a store file`;
    if (seen.has(path)) return `files[${i}].path ${path} is listed twice`;
    seen.add(path);
    if (content !== null && typeof content !== "string") return `files[${i}].content is not text`;
    const stated = (r.state as Record<string, unknown>)[path];
    if (stated !== undefined && stated !== (content === null ? null : sha256Hex(content)))
      return `files[${i}] (${path}) does not hash to its state`;
    if (path === ENVIRONMENT_FILE) env = content ?? undefined;
  }
  if (env === undefined || sha256Hex(env) !== r.env_sha256) return "its environment.json does not hash to env_sha256";
  const event = r.event as Record<string, unknown> | null;
  if (typeof event !== "object" || event === null || event.schema !== "greentic.audit.event.v1")
    return "event is not an audit event";
  if (event.env_id !== envId) return `event belongs to environment ${JSON.stringify(event.env_id)}`;
  if (event.new_generation !== generation) return "event does not record this generation";
  if (!isGeneration(r.audit_offset) || !isGeneration(r.audit_lines)) return "audit_offset or audit_lines is invalid";
  return undefined;
}

/** Reads and validates one record; `integrity` naming it when it is damaged. */
export async function readRecord(core: StoreCore, envId: string, generation: number): Promise<CommitRecord> {
  const file = join(core.envDir(envId), COMMITS_DIR, recordName(generation));
  const raw = await readIfExists(file);
  if (raw === undefined)
    throw integrity(`${file} is missing`, file, "commit records are removed only by the store; restore a backup");
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw integrity(`${file}: not valid JSON (${(error as Error).message})`, file, "restore a backup");
  }
  const problem = recordProblem(value, envId, generation);
  if (problem !== undefined)
    throw integrity(
      `${file}: not a valid commit record (${problem}); recovery will not act on it`,
      file,
      "restore a backup",
    );
  return value as CommitRecord;
}

/** The newest record, if any. */
export async function newestRecord(core: StoreCore, envId: string): Promise<CommitRecord | undefined> {
  const gens = await recordGenerations(core, envId);
  const newest = gens.at(-1);
  return newest === undefined ? undefined : readRecord(core, envId, newest);
}

/** The record's content of `rel` (string, or null: removed), or `undefined` when it does not write it. */
export function recordFile(record: CommitRecord, rel: string): string | null | undefined {
  return record.files.find((f) => f.path === rel)?.content;
}

/**
 * Publishes `record` as the commit of its generation: written to a temp file and fsynced, then
 * linked to its name (atomic, and refused with EEXIST if another writer got there first), then
 * the directory is fsynced. Returns false when the generation was already committed.
 */
export async function publishRecord(core: StoreCore, envId: string, record: CommitRecord): Promise<boolean> {
  const dir = join(core.envDir(envId), COMMITS_DIR);
  await ensureDir(core.root, dir);
  const tmp = join(dir, `.${recordName(record.generation)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const target = join(dir, recordName(record.generation));
  try {
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(record)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, target);
    } catch (error) {
      if (errnoCode(error) === "EEXIST") return false;
      throw error;
    }
    await fsyncDir(dir);
    return true;
  } catch (error) {
    if (error instanceof GreenticError) throw error;
    throw ioError("committing", target, error);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Withdraws a record this writer published but must not keep (a zombie below a newer one). */
export async function withdrawRecord(core: StoreCore, envId: string, generation: number): Promise<void> {
  await unlink(join(core.envDir(envId), COMMITS_DIR, recordName(generation))).catch(() => {});
}

/** Keeps the newest {@link RECORDS_KEPT} records. Best effort. */
export async function pruneRecords(core: StoreCore, envId: string): Promise<void> {
  const gens = await recordGenerations(core, envId).catch(() => []);
  for (const g of gens.slice(0, Math.max(0, gens.length - RECORDS_KEPT))) await withdrawRecord(core, envId, g);
}
