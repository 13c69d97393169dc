import { unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  EnvironmentRuntimeSchema,
  canonicalDigest,
  parseDocument,
  parseEnvironment,
  prettyJson,
  sha256Hex,
} from "@greentic/deploy-spec";
import { DEPLOYER_ANSWERS_FILE, VERIFIED_FILE, type VerifiedRecord } from "./fast-read.js";
import { readIfExists, writeReplace } from "./fs-safe.js";
import { ENVIRONMENT_FILE, RUNTIME_FILE, type StoreCore } from "./store-core.js";

// The read cache: `.verified.json`, written by a commit, lets the light reader
// (`fast-read.ts`) serve documents the commit validated without validating them again.

/**
 * Writes `.verified.json` for the files this commit leaves (see `VerifiedRecord`), or
 * removes it when one of them would not load exactly as written: then no record vouches and
 * fast readers take the validating path.
 */
export async function writeVerified(core: StoreCore, envId: string, envBytes: Buffer): Promise<void> {
  const file = join(core.envDir(envId), VERIFIED_FILE);
  const record = await verifiedRecord(core, envId, envBytes).catch(() => undefined);
  // Not fsynced: after a crash the record may be stale or missing, and then it vouches for nothing.
  if (record === undefined) await unlink(file).catch(() => {});
  else await writeReplace(core.root, file, prettyJson(record));
}

async function verifiedRecord(core: StoreCore, envId: string, envBytes: Buffer): Promise<VerifiedRecord | undefined> {
  const dir = core.envDir(envId);
  // A fast reader returns JSON.parse of the bytes, so they must parse to what a load returns.
  const loadsAsWritten = (parsed: { ok: boolean; value?: unknown }, json: unknown) =>
    parsed.ok && JSON.stringify(parsed.value) === JSON.stringify(json);
  const json = JSON.parse(envBytes.toString("utf8")) as { environment_id?: unknown; generation?: unknown };
  const env = parseEnvironment(json);
  if (!env.ok || env.value.environment_id !== envId || !loadsAsWritten(env, json)) return undefined;
  const runtimeRaw = await readIfExists(join(dir, RUNTIME_FILE));
  if (runtimeRaw !== undefined) {
    const runtime = JSON.parse(runtimeRaw.toString("utf8")) as unknown;
    const parsed = parseDocument(EnvironmentRuntimeSchema, runtime, { source: RUNTIME_FILE });
    if (!parsed.ok || parsed.value.environment_id !== envId || !loadsAsWritten(parsed, runtime)) return undefined;
  }
  // `op env show` reads the deployer's answers for the router; a load only needs them to parse.
  const answersRaw = await readIfExists(join(dir, DEPLOYER_ANSWERS_FILE));
  if (answersRaw !== undefined) JSON.parse(answersRaw.toString("utf8"));
  return {
    schema: "greentic.store-verified.v1",
    generation: env.value.generation ?? 0,
    etag: canonicalDigest(json),
    files: {
      [ENVIRONMENT_FILE]: sha256Hex(envBytes),
      [RUNTIME_FILE]: runtimeRaw === undefined ? null : sha256Hex(runtimeRaw),
      [DEPLOYER_ANSWERS_FILE]: answersRaw === undefined ? null : sha256Hex(answersRaw),
    },
  };
}
