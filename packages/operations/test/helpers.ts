import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle } from "@greentic/bundle";
import { isGreenticError, type ErrorKind } from "@greentic/deploy-spec";
import { expect } from "vitest";
import { release, stopTracked, track } from "../../../scripts/test-support/leftovers.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * A fresh temporary directory; remove it with `removeTemp`. Tracked until then: processes
 * started in it are stopped even when the run is interrupted (scripts/test-support/leftovers.ts).
 */
export async function makeTemp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `greentic-ops-${prefix}-`));
  track({ dir });
  return dir;
}

/** Stops whatever still runs in `dir` (revisions, routers), then removes it. */
export async function removeTemp(dir: string | undefined): Promise<void> {
  if (dir === undefined) return;
  stopTracked([{ dir, remove: false }]);
  await rm(dir, { recursive: true, force: true });
  release(dir);
}

/** Builds `fixtures/bundles/<name>` into `<dir>/<name>.gtbundle` with bundle id `hello`. */
export async function buildFixture(
  name: "hello" | "hello-v2",
  dir: string,
  version: string,
  bundleId = "hello",
): Promise<string> {
  const outFile = join(dir, bundleId === "hello" ? `${name}.gtbundle` : `${name}-${bundleId}.gtbundle`);
  await buildBundle({ sourceDir: join(repoRoot, "fixtures", "bundles", name), outFile, bundleId, version });
  return outFile;
}

/** Asserts that `promise` rejects with a GreenticError of `kind` and returns it. */
export async function expectKind(
  promise: Promise<unknown>,
  kind: ErrorKind,
): Promise<{ message: string; details: Record<string, unknown> | undefined; path: string | undefined }> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ${kind} error`).toBeDefined();
  if (!isGreenticError(caught)) throw caught;
  expect({ kind: caught.kind, message: caught.message }).toMatchObject({ kind });
  return { message: caught.message, details: caught.details, path: caught.path };
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Polls until `pid` is gone (processes stopped with SIGTERM take a moment). */
export async function waitGone(pid: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

/** GET a URL and return status, body text and the router's `x-greentic-revision` header (if any). */
export async function fetchText(url: string): Promise<{ status: number; text: string; revision: string | null }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return {
    status: response.status,
    text: await response.text(),
    revision: response.headers.get("x-greentic-revision"),
  };
}
