import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testDir } from "../../../scripts/test-support/handler-context.ts";

export { contextFor, testDir } from "../../../scripts/test-support/handler-context.ts";

/**
 * Builds the runtime's JavaScript (tsup only: declarations are not needed to run it), one
 * build at a time across test files: concurrent tsup runs would clean each other's dist/.
 */
export async function buildRuntime(): Promise<void> {
  const { execFile } = await import("node:child_process");
  const { promisify } = await import("node:util");
  const { stat } = await import("node:fs/promises");
  const { setTimeout: sleep } = await import("node:timers/promises");
  const repo = join(import.meta.dirname, "../../..");
  const lock = join(tmpdir(), "greentic-deployer-local-runtime-build.lock");
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age =
        Date.now() -
        (await stat(lock)
          .then((s) => s.mtimeMs)
          .catch(() => Date.now()));
      if (age > 180_000) await rm(lock, { recursive: true, force: true });
      await sleep(200);
    }
  }
  try {
    await promisify(execFile)("pnpm", ["--filter", "@greentic/runtime", "exec", "tsup"], { cwd: repo });
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Bundles the router entry (`src/local-router-bin.ts`) into `outDir` and returns the script's
 * path. Built into a private directory so that tests never clean this package's dist/.
 */
export async function buildRouter(outDir: string): Promise<string> {
  const { build } = await import("tsup");
  await build({
    entry: { "local-router-bin": join(import.meta.dirname, "../src/local-router-bin.ts") },
    outDir,
    format: ["esm"],
    target: "node22",
    platform: "node",
    config: false,
    silent: true,
    clean: false,
    dts: false,
    // One file, like the package's build: a split-off undici chunk would export only `default`.
    splitting: false,
    noExternal: ["@greentic/io-kit", "@greentic/deploy-spec", "undici"],
    banner: { js: (await import("../tsup.config.ts")).ROUTER_BANNER },
  });
  return join(outDir, "local-router-bin.js");
}

/** Polls `check` every 50 ms until it returns a value other than `undefined`, or fails after `timeoutMs`. */
export async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const { setTimeout: sleep } = await import("node:timers/promises");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** True when `pid` is alive and not a zombie. */
export async function isRunning(pid: number): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Builds the one-page fixture bundle into a temp dir (removed after the test): the bundle the conformance kit stages. */
export async function conformanceBundle(): Promise<string> {
  const { buildBundle } = await import("@greentic/bundle");
  const outFile = join(await testDir(), "conformance.gtbundle");
  const sourceDir = join(import.meta.dirname, "../../../fixtures/bundles/hello");
  await buildBundle({ sourceDir, outFile, bundleId: "conformance", version: "1.0.0" });
  return outFile;
}
