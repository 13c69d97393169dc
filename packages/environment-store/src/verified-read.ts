import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  EnvironmentRuntimeSchema,
  GreenticError,
  canonicalDigest,
  parseDocument,
  parseEnvironment,
  sha256Hex,
  type Environment,
  type EnvironmentRuntime,
} from "@greentic/deploy-spec/documents";
import { BACKUPS_DIR, listBackupFiles } from "./backups.js";
import { unsafeEnvIdReason } from "./env-id.js";
import { errnoCode, ioError, readIfExists } from "./fs-safe.js";
import { readJournal } from "./journal.js";
import { AUDIT_FILE } from "./audit-log.js";
import { readRecord, recordFile, recordGenerations, recordName, type CommitRecord } from "./commit-record.js";
import { AUDIT_DIR, COMMITS_DIR, ENVIRONMENT_FILE, RUNTIME_FILE, integrity, type StoreCore } from "./store-core.js";
import type { BackupInfo, EnvironmentSummary } from "./types.js";

// Verified reads: every document is parsed, schema-checked and cross-checked before it is
// returned; a file that fails is an `integrity` error naming it and the newest valid backup.

/** `environment.json` as committed, verified, with its raw bytes (backups copy them). */
export interface CurrentEnv {
  environment: Environment;
  etag: string;
  generation: number;
  raw: Buffer;
}

export function parseJson(core: StoreCore, envId: string, rel: string, raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw integrity(
      `${join(core.envDir(envId), rel)}: not valid JSON (${(error as Error).message})`,
      join(core.envDir(envId), rel),
      "restore a backup (see listBackups)",
    );
  }
}

/**
 * How `environment.json` stands against the newest commit record: `legacy` (no records: an
 * environment from before them), `current` (it holds what the record committed), `pending`
 * (it still holds what the record replaced: a crash or a writer between its commit point and
 * its writes), `stale` (it holds an older committed generation: a paused writer's late write),
 * or `tampered` (anything else: a hand edit, a deletion). The committed bytes are the
 * record's for `pending` and `stale`.
 */
export type EnvState =
  | { kind: "legacy"; raw: Buffer | undefined }
  | { kind: "current" | "pending" | "stale"; raw: Buffer | undefined; committed: Buffer; record: CommitRecord }
  | { kind: "tampered"; raw: Buffer | undefined; record: CommitRecord }
  /**
   * Written by the reference, which shares the store: the file differs from the newest record
   * and the audit log has events without `prev_hash` after that record's event (the reference
   * audits every mutation it commits). Its generation continues from the record's, one per
   * such event, so `--expected-generation` values never repeat across a foreign write.
   */
  | { kind: "foreign"; raw: Buffer; record: CommitRecord; generation: number };

export async function envState(core: StoreCore, envId: string): Promise<EnvState> {
  const raw = await readIfExists(join(core.envDir(envId), ENVIRONMENT_FILE));
  const generations = await recordGenerations(core, envId);
  const newest = generations.at(-1);
  if (newest === undefined) return { kind: "legacy", raw };
  const record = await readRecord(core, envId, newest);
  const committed = Buffer.from(recordFile(record, ENVIRONMENT_FILE) ?? "");
  const sha = raw === undefined ? null : sha256Hex(raw);
  if (sha === record.env_sha256) return { kind: "current", raw, committed, record };
  if (sha === record.replaces_sha256) return { kind: "pending", raw, committed, record };
  if (sha !== null) {
    for (const g of generations.slice(0, -1).reverse()) {
      const older = await readRecord(core, envId, g).catch(() => undefined);
      if (older?.env_sha256 === sha) return { kind: "stale", raw, committed, record };
    }
  }
  if (raw !== undefined) {
    const foreign = await foreignEventsAfter(core, envId, record);
    if (foreign > 0) return { kind: "foreign", raw, record, generation: record.generation + foreign };
  }
  return { kind: "tampered", raw, record };
}

/**
 * Events of this environment appended without `prev_hash` after `record`'s own event: what a
 * writer without the hash chain (the reference) committed since. 0 when the record's event is
 * not in the log or a chained line follows it.
 */
async function foreignEventsAfter(core: StoreCore, envId: string, record: CommitRecord): Promise<number> {
  const raw = await readIfExists(join(core.envDir(envId), AUDIT_DIR, AUDIT_FILE));
  if (raw === undefined) return 0;
  const lines = raw.toString("utf8").split("\n");
  const at = lines.findIndex((l) => l.includes(record.event.event_id));
  if (at < 0) return 0;
  let count = 0;
  for (const line of lines.slice(at + 1)) {
    if (line.trim() === "") continue;
    let event: { prev_hash?: unknown; env_id?: unknown };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return 0;
    }
    if (event.prev_hash !== undefined || event.env_id !== envId) return 0;
    count++;
  }
  return count;
}

/** The `integrity` error for a tampered or deleted environment.json, naming the newest valid backup. */
async function tamperedError(
  core: StoreCore,
  envId: string,
  state: Extract<EnvState, { kind: "tampered" }>,
  withBackupHint: boolean,
): Promise<GreenticError> {
  const file = join(core.envDir(envId), ENVIRONMENT_FILE);
  const { record } = state;
  const committedEtag = canonicalDigest(JSON.parse(recordFile(record, ENVIRONMENT_FILE) ?? "null"));
  let etag = committedEtag;
  if (state.raw !== undefined) {
    try {
      etag = canonicalDigest(JSON.parse(state.raw.toString("utf8")));
    } catch {
      etag = sha256Hex(state.raw);
    }
  }
  const newest = withBackupHint ? await newestValidBackup(core, envId, ENVIRONMENT_FILE) : undefined;
  const what =
    state.raw === undefined
      ? `is missing, but generation ${record.generation} was committed (${COMMITS_DIR}/${recordName(record.generation)})`
      : `does not hold what generation ${record.generation} committed (${COMMITS_DIR}/${recordName(record.generation)}): it was changed outside the store`;
  return integrity(
    `${file} ${what}`,
    file,
    newest
      ? `restore the newest valid backup: op env restore ${envId} ${newest} --expected-generation ${record.generation}`
      : "no valid backup exists; restore the file by hand",
    { file, etag, generation: record.generation, newest_valid_backup: newest },
  );
}

/** Reads and verifies `environment.json`: JSON, schema, cross-references, id, and the commit record. */
export async function readEnv(
  core: StoreCore,
  envId: string,
  withBackupHint: boolean,
): Promise<CurrentEnv | undefined> {
  const file = join(core.envDir(envId), ENVIRONMENT_FILE);
  const state = await envState(core, envId);
  if (state.kind === "tampered") {
    const tampered = await tamperedError(core, envId, state, withBackupHint);
    if (state.raw === undefined) throw tampered;
    // A file that does not even load is reported for what is wrong with it.
    await verifyEnvBytes(core, envId, state.raw, withBackupHint, tampered.details as Record<string, unknown>);
    throw tampered;
  }
  if (state.kind === "foreign") {
    const current = await verifyEnvBytes(core, envId, state.raw, withBackupHint);
    return { ...current, generation: Math.max(state.generation, current.generation) };
  }
  const raw = state.kind === "legacy" ? state.raw : state.committed;
  if (raw === undefined) {
    const log = join(core.envDir(envId), AUDIT_DIR, AUDIT_FILE);
    const size = await stat(log).then(
      (st) => st.size,
      () => 0,
    );
    if (size === 0) return undefined;
    // A deleted environment.json must not read as "no such environment" (a create would start again at 1).
    const newest = withBackupHint ? await newestValidBackup(core, envId, ENVIRONMENT_FILE) : undefined;
    throw integrity(
      `${file} is missing, but the environment's audit log (${log}) records its history`,
      file,
      newest
        ? `restore the newest valid backup: op env restore ${envId} ${newest} --expected-generation 0`
        : "no valid backup exists; restore the file by hand",
      { file, etag: sha256Hex(""), generation: 0, newest_valid_backup: newest },
    );
  }
  return verifyEnvBytes(core, envId, raw, withBackupHint);
}

/** Parses and checks `environment.json` bytes; `integrity` naming the file and what is wrong. */
async function verifyEnvBytes(
  core: StoreCore,
  envId: string,
  raw: Buffer,
  withBackupHint: boolean,
  extraDetails: Record<string, unknown> = {},
): Promise<CurrentEnv> {
  const file = join(core.envDir(envId), ENVIRONMENT_FILE);
  let problem: string;
  let issues;
  let etag = sha256Hex(raw);
  let generation: number | undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    json = undefined;
    problem = `not valid JSON (${(error as Error).message})`;
  }
  if (json !== undefined) {
    etag = canonicalDigest(json);
    const g = (json as { generation?: unknown }).generation;
    if (typeof g === "number") generation = g;
    const parsed = parseEnvironment(json);
    if (parsed.ok && parsed.value.environment_id === envId) {
      return { environment: parsed.value, etag, generation: parsed.value.generation ?? 0, raw };
    }
    if (parsed.ok)
      problem = `environment_id is ${JSON.stringify(parsed.value.environment_id)} but the file is stored under ${JSON.stringify(envId)}`;
    else {
      problem = parsed.summary;
      issues = parsed.issues;
    }
  }
  const newest = withBackupHint ? await newestValidBackup(core, envId, ENVIRONMENT_FILE) : undefined;
  const err = integrity(
    `${file}: ${problem!}`,
    file,
    newest
      ? `restore the newest valid backup: restore(${JSON.stringify(envId)}, ${JSON.stringify(newest)}, {if_match: ${JSON.stringify(etag)}})`
      : "no valid backup exists; fix the file by hand",
    { ...extraDetails, file, etag, generation, newest_valid_backup: newest },
  );
  if (issues) Object.assign(err, { issues });
  throw err;
}

export async function newestValidBackup(core: StoreCore, envId: string, rel: string): Promise<string | undefined> {
  const files = (await listBackupFiles(core.envDir(envId))).filter((f) => f.file === rel).reverse();
  for (const f of files) {
    try {
      await checkBackup(core, envId, f.backup_id, f.file);
      return f.backup_id;
    } catch {
      // try an older one
    }
  }
  return undefined;
}

/** Verifies a backup the way a load would; returns its generation and etag for env backups. */
export async function checkBackup(
  core: StoreCore,
  envId: string,
  backupId: string,
  rel: string,
): Promise<{ content: unknown; generation?: number; etag?: string }> {
  const file = join(core.envDir(envId), BACKUPS_DIR, backupId);
  const raw = await readIfExists(file);
  if (raw === undefined)
    throw new GreenticError("not-found", `backup ${backupId} of environment ${envId} does not exist`, {
      hint: "list backups with listBackups",
    });
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw integrity(`backup ${backupId}: not valid JSON (${(error as Error).message})`, file, "pick another backup");
  }
  if (rel === ENVIRONMENT_FILE) {
    const parsed = parseEnvironment(json, { source: `backup ${backupId}` });
    if (!parsed.ok) throw integrity(parsed.summary, file, "pick another backup");
    if (parsed.value.environment_id !== envId)
      throw integrity(
        `backup ${backupId} belongs to environment ${parsed.value.environment_id}`,
        file,
        "pick another backup",
      );
    return { content: json, generation: parsed.value.generation ?? 0, etag: canonicalDigest(json) };
  }
  if (rel === RUNTIME_FILE) {
    const parsed = parseDocument(EnvironmentRuntimeSchema, json, { source: `backup ${backupId}` });
    if (!parsed.ok) throw integrity(parsed.summary, file, "pick another backup");
  }
  return { content: json };
}

/**
 * A side file as of the committed generation. When the newest commit record says the file
 * should hash to something else (a crash between the commit point and its writes, or a
 * paused writer's late write), the committed content is taken from the records instead.
 * A legacy journal (`.txn.json`) of an unfinished transaction is honoured the same way.
 */
export async function readSide(
  core: StoreCore,
  envId: string,
  rel: string,
  committedGeneration: number | null,
): Promise<Buffer | undefined> {
  const dir = core.envDir(envId);
  const journal = await readJournal(core, envId);
  if (journal && journal.base_generation === committedGeneration && journal.generation !== committedGeneration) {
    const entry = journal.files.find((f) => f.path === rel);
    if (entry) return entry.prior === null ? undefined : readIfExists(join(dir, BACKUPS_DIR, entry.prior));
  }
  const onDisk = await readIfExists(join(dir, rel));
  const committed = await committedSide(core, envId, rel);
  if (committed === undefined) return onDisk;
  const sha = onDisk === undefined ? null : sha256Hex(onDisk);
  if (sha === committed.sha) return onDisk;
  return committed.content === null ? undefined : Buffer.from(committed.content);
}

/** What the records say `rel` holds: its digest in the newest record and its content from the newest record that wrote it. */
export async function committedSide(
  core: StoreCore,
  envId: string,
  rel: string,
): Promise<{ sha: string | null; content: string | null } | undefined> {
  const generations = await recordGenerations(core, envId);
  const newest = generations.at(-1);
  if (newest === undefined) return undefined;
  const record = await readRecord(core, envId, newest);
  if (!Object.hasOwn(record.state, rel)) return undefined;
  const sha = record.state[rel] ?? null;
  for (const g of [...generations].reverse()) {
    const r = g === newest ? record : await readRecord(core, envId, g).catch(() => undefined);
    const content = r === undefined ? undefined : recordFile(r, rel);
    if (content !== undefined && (content === null ? null : sha256Hex(content)) === sha) return { sha, content };
  }
  return sha === null ? { sha, content: null } : undefined;
}

export async function readRuntime(
  core: StoreCore,
  envId: string,
  generation: number,
): Promise<EnvironmentRuntime | undefined> {
  const raw = await readSide(core, envId, RUNTIME_FILE, generation);
  if (raw === undefined) return undefined;
  const json = parseJson(core, envId, RUNTIME_FILE, raw);
  const file = join(core.envDir(envId), RUNTIME_FILE);
  const parsed = parseDocument(EnvironmentRuntimeSchema, json, { source: file });
  if (!parsed.ok) throw integrity(parsed.summary, file, "restore a backup of runtime.json (see listBackups)");
  if (parsed.value.environment_id !== envId)
    throw integrity(
      `${file}: environment_id is ${JSON.stringify(parsed.value.environment_id)}, expected ${JSON.stringify(envId)}`,
      file,
      "restore a backup of runtime.json",
    );
  return parsed.value;
}

/** Raw committed generation (null when there is no environment.json), without validation. */
export async function rawGeneration(core: StoreCore, envId: string): Promise<number | null> {
  const raw = await readIfExists(join(core.envDir(envId), ENVIRONMENT_FILE));
  if (raw === undefined) return null;
  try {
    const g = (JSON.parse(raw.toString("utf8")) as { generation?: unknown }).generation;
    return typeof g === "number" ? g : 0;
  } catch {
    return -1; // what restore pins for an unparseable file
  }
}

/** Every environment under the root, sorted by id; a corrupt one is listed with status `integrity`. */
export async function listEnvironments(core: StoreCore): Promise<EnvironmentSummary[]> {
  let entries;
  try {
    entries = await readdir(core.root, { withFileTypes: true });
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw ioError("listing", core.root, error);
  }
  const out: EnvironmentSummary[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || unsafeEnvIdReason(entry.name) !== undefined) continue;
    try {
      const current = await readEnv(core, entry.name, false);
      if (!current) continue;
      out.push({
        environment_id: entry.name,
        status: "ok",
        name: current.environment.name,
        generation: current.generation,
        etag: current.etag,
      });
    } catch (error) {
      if (!(error instanceof GreenticError) || error.kind !== "integrity") throw error;
      out.push({ environment_id: entry.name, status: "integrity", problem: error.message });
    }
  }
  return out.sort((a, b) => (a.environment_id < b.environment_id ? -1 : a.environment_id > b.environment_id ? 1 : 0));
}

/** Every backup of the environment, newest first, each checked the way a load would check it. */
export async function listBackupInfos(core: StoreCore, envId: string): Promise<BackupInfo[]> {
  const files = await listBackupFiles(core.envDir(envId));
  const out: BackupInfo[] = [];
  for (const file of files.reverse()) {
    const info: BackupInfo = {
      backup_id: file.backup_id,
      file: file.file,
      created_at: file.created_at,
      size_bytes: file.size_bytes,
      valid: true,
    };
    try {
      const checked = await checkBackup(core, envId, file.backup_id, file.file);
      if (checked.generation !== undefined) info.generation = checked.generation;
      if (checked.etag !== undefined) info.etag = checked.etag;
    } catch (error) {
      info.valid = false;
      info.problem = error instanceof Error ? error.message : String(error);
    }
    out.push(info);
  }
  return out;
}
