import type { ProgressEvent } from "@greentic/operations";

export interface OpsOptions {
  /** A shared store's URL (`--store` or $GREENTIC_STORE_URL) and where it came from. */
  storeUrl?: { url: string; source: string } | undefined;
  storeRoot?: string | undefined;
  lockTimeoutMs?: number | undefined;
  onProgress?: ((event: ProgressEvent) => void) | undefined;
  /** This op's version, compared with the VM's op by a deployer that drives a VM over SSH. */
  opVersion?: string | undefined;
}

/**
 * Loads `@greentic/operations` (the heavy part: store, registry, zod) and builds the context
 * for one invocation. Called inside `run()` only, never at module top level.
 */
export async function loadOps(options: OpsOptions) {
  const ops = await import("@greentic/operations");
  const store =
    options.storeUrl === undefined
      ? undefined
      : await ops.openSharedStore({
          url: options.storeUrl.url,
          source: options.storeUrl.source,
          lockTimeoutMs: options.lockTimeoutMs,
          onProgress: options.onProgress,
        });
  const ctx = ops.createOperations({
    store,
    storeRoot: options.storeRoot,
    lockTimeoutMs: options.lockTimeoutMs,
    onProgress: options.onProgress,
    opVersion: options.opVersion,
  });
  return { ops, ctx };
}
