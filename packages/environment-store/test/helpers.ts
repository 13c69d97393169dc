import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import type { Environment } from "@greentic/deploy-spec";
import { LocalFsStore, type LocalFsStoreOptions, type Transform } from "../src/index.js";

/** A fresh store root removed when the test finishes. */
export async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gt-store-"));
  onTestFinished(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

export async function tempStore(options: LocalFsStoreOptions = {}): Promise<LocalFsStore> {
  return new LocalFsStore({ root: await tempRoot(), lockStaleMs: 2000, lockTimeoutMs: 20_000, ...options });
}

/** A minimal valid environment document. */
export function envDoc(id: string, name = id): Environment {
  return {
    schema: "greentic.environment.v1",
    environment_id: id,
    name,
    host_config: { env_id: id },
    packs: [],
    bundles: [],
    revisions: [],
    traffic_splits: [],
    messaging_endpoints: [],
    extensions: [],
    revocation: { required: false },
    retention: {},
    health: { state: "unknown" },
  };
}

/** Creates the environment (transform for `transact` with `create: true`). */
export const create =
  (id: string): Transform<{ created: string }> =>
  (current) => {
    if (current) throw new Error(`${id} exists`);
    return { environment: envDoc(id), result: { created: id } };
  };

/** Renames the environment: a real change every time. */
export const rename =
  (name: string): Transform<{ name: string }> =>
  (current) => ({ environment: { ...current!, name }, result: { name } });
