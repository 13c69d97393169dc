import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, readdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Environment, EnvironmentRuntime } from "@greentic/deploy-spec";
import { unsafeEnvIdReason } from "./segment.js";
import type { EnvironmentSummary } from "./types.js";

// The light read path (`@greentic/environment-store/fast-read`): Node built-ins only, no zod,
// no deploy-spec at run time. It serves a document only when the store vouched for its exact
// bytes at commit, after validating them; anything else is `undefined` and the caller takes
// the full, validating path (which reports problems).

export const ENVIRONMENT_FILE = "environment.json";
export const RUNTIME_FILE = "runtime.json";
/** The deployer's answers: `op env show` reads them (through the handler context) to report the router. */
export const DEPLOYER_ANSWERS_FILE = "env-packs/deployer/answers.json";
/** `<env>/.verified.json`: see {@link VerifiedRecord}. */
export const VERIFIED_FILE = ".verified.json";
/** `<env>/commits/`: one record per committed generation (see the store's commit-record.ts). */
export const COMMITS_DIR = "commits";
/** The files a verified record covers, by path relative to the environment directory. */
export const VERIFIED_FILES = [ENVIRONMENT_FILE, RUNTIME_FILE, DEPLOYER_ANSWERS_FILE] as const;

/**
 * Written by a commit, just before `environment.json`, only when every covered file passed
 * the same checks a load makes (parse, schema, cross-references, id) and parses back to
 * exactly what a load returns. It names each file's SHA-256 (`null`: the file is absent), so
 * a record can only vouch for bytes a commit validated: a crash before the commit point, a
 * hand edit or a later partial write leaves bytes that do not hash to it.
 */
export interface VerifiedRecord {
  schema: "greentic.store-verified.v1";
  generation: number;
  etag: string;
  files: Record<(typeof VERIFIED_FILES)[number], string | null>;
}

/** What {@link readVerifiedEnvironment} returns: what `LocalFsStore.load` would. */
export interface VerifiedEnvironment {
  environment: Environment;
  runtime: EnvironmentRuntime | undefined;
  etag: string;
  generation: number;
}

/** Default environments root: `$GREENTIC_HOME/environments`, else `~/.greentic/environments`. */
export function defaultStoreRoot(): string {
  return join(process.env.GREENTIC_HOME ?? join(homedir(), ".greentic"), "environments");
}

/** The absolute root a `LocalFsStore` with this `root` option uses. */
export function resolveStoreRoot(root: string | undefined): string {
  return resolve(root ?? defaultStoreRoot());
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The file's bytes, `null` when absent; throws on anything else (a symlink included, as the store does). */
async function readOrNull(file: string): Promise<Buffer | null> {
  let handle;
  try {
    // Non-blocking, and the type checked before reading: a FIFO or a device never hangs a read.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${file} is not a regular file`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function isRecord(value: unknown): value is VerifiedRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Partial<VerifiedRecord>;
  return (
    r.schema === "greentic.store-verified.v1" &&
    typeof r.generation === "number" &&
    typeof r.etag === "string" &&
    typeof r.files === "object" &&
    r.files !== null &&
    VERIFIED_FILES.every((f) => Object.hasOwn(r.files!, f) && (r.files![f] === null || typeof r.files![f] === "string"))
  );
}

/**
 * The environment `envId` under `root` when the store vouches for the bytes on disk right
 * now; `undefined` when it does not (no record, hash mismatch, missing environment, unsafe
 * id, unreadable file): the caller then loads it through `LocalFsStore`.
 */
export async function readVerifiedEnvironment(root: string, envId: string): Promise<VerifiedEnvironment | undefined> {
  if (typeof envId !== "string" || unsafeEnvIdReason(envId) !== undefined) return undefined;
  try {
    const dir = join(root, envId);
    const recordRaw = await readOrNull(join(dir, VERIFIED_FILE));
    if (recordRaw === null) return undefined;
    const record: unknown = JSON.parse(recordRaw.toString("utf8"));
    if (!isRecord(record)) return undefined;
    // Every covered file is read and hashed: together they must be the set one commit wrote.
    const bytes = new Map<string, Buffer | null>();
    for (const rel of VERIFIED_FILES) {
      const raw = await readOrNull(join(dir, rel));
      if ((raw === null ? null : sha256(raw)) !== record.files[rel]) return undefined;
      bytes.set(rel, raw);
    }
    // A writer that lost its lock may have rewritten both files late: the newest commit record decides.
    const records = await readdir(join(dir, COMMITS_DIR)).catch(() => [] as string[]);
    const newest = records
      .filter((n) => /^\d{12}\.json$/u.test(n))
      .sort()
      .at(-1);
    if (newest !== undefined && Number(newest.slice(0, 12)) !== record.generation) return undefined;
    const environment = JSON.parse(bytes.get(ENVIRONMENT_FILE)!.toString("utf8")) as Environment;
    if (environment.environment_id !== envId || (environment.generation ?? 0) !== record.generation) return undefined;
    const runtimeRaw = bytes.get(RUNTIME_FILE);
    const runtime = runtimeRaw ? (JSON.parse(runtimeRaw.toString("utf8")) as EnvironmentRuntime) : undefined;
    return { environment, runtime, etag: record.etag, generation: record.generation };
  } catch {
    return undefined;
  }
}

/**
 * `LocalFsStore.list()` when every environment in it is vouched for; `undefined` as soon as
 * one is not (the full path then reports it, e.g. as `integrity`).
 */
export async function listVerifiedEnvironments(root: string): Promise<EnvironmentSummary[] | undefined> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? [] : undefined;
  }
  const out: EnvironmentSummary[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || unsafeEnvIdReason(entry.name) !== undefined) continue;
    let present: Buffer | null;
    try {
      present = await readOrNull(join(root, entry.name, ENVIRONMENT_FILE));
    } catch {
      return undefined;
    }
    if (present === null) continue;
    const env = await readVerifiedEnvironment(root, entry.name);
    if (env === undefined) return undefined;
    out.push({
      environment_id: entry.name,
      status: "ok",
      name: env.environment.name,
      generation: env.generation,
      etag: env.etag,
    });
  }
  return out.sort((a, b) => (a.environment_id < b.environment_id ? -1 : a.environment_id > b.environment_id ? 1 : 0));
}
