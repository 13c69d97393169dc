import type { AuditActor } from "@greentic/deploy-spec";
import type { EnvPackRegistry } from "@greentic/env-packs";
import { hostname } from "node:os";
import { LocalFsStore } from "@greentic/environment-store";
import { createOperationsRegistry, type OperationsContext, type OperationsStore } from "./context.js";
import type { ProgressEvent } from "./types.js";

/** Options of {@link createOperations}. */
export interface OperationsOptions {
  /** Environments root of the local store; default `$GREENTIC_HOME/environments` or `~/.greentic/environments`. Ignored with `store`. */
  storeRoot?: string | undefined;
  /** A store to use instead of the local filesystem store at `storeRoot`. */
  store?: OperationsStore | undefined;
  /** Env-pack registry; default: the built-ins (`greentic.deployer.single-vm` imported when first resolved) plus plugins named in `GREENTIC_ENV_PACK_PLUGINS` (loaded on demand). */
  registry?: EnvPackRegistry | undefined;
  /** Who acts, as recorded in audit events; default: the local OS user. */
  actor?: AuditActor | undefined;
  /** Receives progress events of long verbs (deploy, warm, destroy) and handler events. */
  onProgress?: ((event: ProgressEvent) => void) | undefined;
  /** Health-gate timeout for warming a revision, in ms; default: the deployer's. */
  warmTimeoutMs?: number | undefined;
  /** How long a mutation waits for another holder's lock before failing with `locked`, in ms (local store). */
  lockTimeoutMs?: number | undefined;
  /** The CLI's version: the single-VM deployer compares it with the VM's op when it drives a VM over SSH. */
  opVersion?: string | undefined;
}

/** Options of {@link openSharedStore}. */
export interface SharedStoreOptions {
  /** `postgres://…`; any other scheme or a malformed URL is `invalid-argument`. */
  url: string;
  /** Where the URL came from, named in errors: `--store`, `GREENTIC_STORE_URL`. */
  source?: string | undefined;
  lockTimeoutMs?: number | undefined;
  onProgress?: ((event: ProgressEvent) => void) | undefined;
}

/**
 * The shared store a URL names: PostgreSQL (`@greentic/environment-store-postgres`, loaded
 * only here so that the local path never loads the driver). Deployer-local data (staged
 * bundles, process records) stays on this machine, under `$GREENTIC_HOME/local-data`.
 */
export async function openSharedStore(options: SharedStoreOptions): Promise<OperationsStore> {
  const { PostgresStore } = await import("@greentic/environment-store-postgres");
  return new PostgresStore({
    url: options.url,
    source: options.source,
    lockTimeoutMs: options.lockTimeoutMs,
    onLockWait: (envId, holder) =>
      options.onProgress?.({
        event: "store.lock-wait",
        message: `waiting for the lock on ${envId} held by ${
          holder === undefined
            ? "another writer"
            : `op pid ${holder.pid} on ${holder.host} (${holder.operation}, since ${localTime(holder.acquired_at)})`
        }…`,
        environment_id: envId,
        holder,
      }),
  });
}

/**
 * Builds the context every verb function takes as its first argument: the store (the local
 * filesystem store at `storeRoot` unless one is given), the env-pack registry, the actor and
 * the progress sink. Cheap: nothing is read until a verb runs.
 */
export function createOperations(options: OperationsOptions = {}): OperationsContext {
  let registry = options.registry;
  return {
    store:
      options.store ??
      new LocalFsStore({
        root: options.storeRoot,
        lockTimeoutMs: options.lockTimeoutMs,
        // Someone else holds the lock: say who and since when, as a progress event.
        onLockWait: (envId, holder) =>
          options.onProgress?.({
            event: "store.lock-wait",
            message: `waiting for the lock on ${envId} held by ${
              holder === undefined
                ? "another process"
                : `pid ${holder.pid}${holder.host === hostname() ? "" : ` on ${holder.host}`} (${holder.operation}, since ${localTime(holder.acquired_at)})`
            }…`,
            environment_id: envId,
            holder,
          }),
      }),
    // Built on first use: most read verbs never resolve an env-pack, and building the registry
    // checks every built-in handler (semver ranges included).
    get registry() {
      registry ??= createOperationsRegistry({ opVersion: options.opVersion });
      return registry;
    },
    actor: options.actor,
    onProgress: options.onProgress,
    warmTimeoutMs: options.warmTimeoutMs,
  };
}

/** `12:41:03` for a time today, else `2026-07-01 12:41:03`, in local time. */
function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? time
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}
