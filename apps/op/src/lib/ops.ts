import type { ProgressEvent } from "@greentic/operations";

export interface OpsOptions {
  storeRoot?: string | undefined;
  lockTimeoutMs?: number | undefined;
  onProgress?: ((event: ProgressEvent) => void) | undefined;
}

/**
 * Loads `@greentic/operations` (the heavy part: store, registry, zod) and builds the context
 * for one invocation. Called inside `run()` only, never at module top level.
 */
export async function loadOps(options: OpsOptions) {
  const ops = await import("@greentic/operations");
  const ctx = ops.createOperations({
    storeRoot: options.storeRoot,
    lockTimeoutMs: options.lockTimeoutMs,
    onProgress: options.onProgress,
  });
  return { ops, ctx };
}
