import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { onTestFinished } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";

export const REPO = resolve(import.meta.dirname, "../../..");
export const HELLO = join(REPO, "fixtures/bundles/hello");
export const HELLO_V2 = join(REPO, "fixtures/bundles/hello-v2");

/** A temp dir removed when the current test finishes. */
export async function testdir(prefix = "gt-bundle-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Awaits `promise`, expecting a GreenticError; returns it. */
export async function rejectsWith(promise: Promise<unknown>): Promise<GreenticError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GreenticError) return error;
    throw new Error(`expected a GreenticError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a GreenticError, but the call succeeded");
}
