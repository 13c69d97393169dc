import { readdir } from "node:fs/promises";
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
} from "@greentic/deploy-spec";
import { BACKUPS_DIR, listBackupFiles } from "./backups.js";
import { unsafeEnvIdReason } from "./env-id.js";
import { errnoCode, ioError, readIfExists } from "./fs-safe.js";
import { readJournal } from "./journal.js";
import { ENVIRONMENT_FILE, RUNTIME_FILE, integrity, type StoreCore } from "./store-core.js";
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

/** Reads and verifies `environment.json`: JSON, schema, cross-references, id. */
export async function readEnv(
  core: StoreCore,
  envId: string,
  withBackupHint: boolean,
): Promise<CurrentEnv | undefined> {
  const file = join(core.envDir(envId), ENVIRONMENT_FILE);
  const raw = await readIfExists(file);
  if (raw === undefined) return undefined;
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
    { file, etag, generation, newest_valid_backup: newest },
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
 * A side file as of the committed generation: if a journal shows a transaction that has not
 * committed yet (or crashed), its previous version is read instead of the staged one.
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
  return readIfExists(join(dir, rel));
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
