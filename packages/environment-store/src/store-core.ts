import type { LockRecord } from "./lock.js";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { randomFillSync } from "node:crypto";
import { monotonicFactory } from "ulid";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { authorizeLocalOwner } from "./authorize.js";
import { unsafeSegmentReason } from "./env-id.js";
import type { Authorizer } from "./types.js";

// Layout and settings shared by the store's modules (verified reads, locking and recovery,
// the mutation pipeline, the commit protocol, restore and destroy).

/** Default environments root: `$GREENTIC_HOME/environments`, else `~/.greentic/environments`. */
export function defaultStoreRoot(): string {
  return join(process.env.GREENTIC_HOME ?? join(homedir(), ".greentic"), "environments");
}

export const ENVIRONMENT_FILE = "environment.json";
export const RUNTIME_FILE = "runtime.json";
export const RUNTIME_CONFIG_FILE = "runtime-config.json";
export const AUDIT_DIR = "audit";
export const LEDGER_DIR = "idempotency";
export const DATA_DIR = "data";
export const JOURNAL_FILE = ".txn.json";
/** `<env>/commits/`: one record per committed generation (see commit-record.ts). */
export const COMMITS_DIR = "commits";
export const LOCKS_DIR = ".locks";
export const DESTROYED_DIR = ".destroyed";

export interface LocalFsStoreOptions {
  /** The environments root (`<root>/<env_id>/`). Default `$GREENTIC_HOME/environments`, else `~/.greentic/environments`. */
  root?: string | undefined;
  /**
   * A lock not refreshed for this long belongs to a dead holder and is reclaimed. Default
   * `$GREENTIC_LOCK_STALE_MS`, else 10 000 ms (minimum 2 000).
   */
  lockStaleMs?: number | undefined;
  /** How long to wait for a held lock before failing with `locked`. Default 30 000 ms. */
  lockTimeoutMs?: number | undefined;
  /** Called once per acquisition that has to wait for another holder (e.g. to tell the user). */
  onLockWait?: ((envId: string, holder: LockRecord | undefined) => void) | undefined;
  /** Backups kept per file. Default 50. */
  backupRetention?: number | undefined;
  /** Idempotency entries kept per environment. Default 4 096 (the reference's cap). */
  ledgerCapacity?: number | undefined;
  /** Authorization hook evaluated before every mutation. Default: {@link authorizeLocalOwner}. */
  authorize?: Authorizer | undefined;
}

/** The resolved settings and paths of one `LocalFsStore`. */
export class StoreCore {
  /** Absolute environments root. */
  readonly root: string;
  readonly staleMs: number;
  readonly timeoutMs: number;
  readonly onLockWait: LocalFsStoreOptions["onLockWait"];
  readonly retention: number;
  readonly ledgerCapacity: number;
  readonly authorizer: Authorizer;
  /** In-process queues per environment (see `withLock`). */
  readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: LocalFsStoreOptions = {}) {
    this.root = resolve(options.root ?? defaultStoreRoot());
    const fromEnv = Number(process.env.GREENTIC_LOCK_STALE_MS);
    this.staleMs = Math.max(options.lockStaleMs ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 10_000), 2_000);
    this.timeoutMs = options.lockTimeoutMs ?? 30_000;
    this.onLockWait = options.onLockWait;
    this.retention = options.backupRetention ?? 50;
    this.ledgerCapacity = options.ledgerCapacity ?? 4096;
    this.authorizer = options.authorize ?? authorizeLocalOwner;
    if (!Number.isInteger(this.retention) || this.retention < 1) {
      throw new GreenticError("invalid-argument", `backupRetention must be a positive integer, got ${this.retention}`, {
        hint: "the default is 50",
      });
    }
  }

  envDir(envId: string): string {
    return join(this.root, envId);
  }

  lockDir(envId: string): string {
    return join(this.root, LOCKS_DIR, `${envId}.lock`);
  }

  notFound(envId: string): GreenticError {
    return new GreenticError("not-found", `environment ${envId} does not exist in ${this.root}`, {
      hint: "list environments with `op env list`, or create it first",
    });
  }
}

// ulid's default source asks the kernel for one random byte per character: 16 calls per id.
// One call fills a pool that serves 256 characters.
const pool = Buffer.alloc(256);
let poolAt = pool.length;
function pooledRandom(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++]! / 256; // [0, 1): 8 byte values per character of the 32
}

export const newUlid = monotonicFactory(pooledRandom);

export function integrity(
  message: string,
  path: string,
  hint: string,
  details?: Record<string, unknown>,
): GreenticError {
  return new GreenticError("integrity", message, { path, hint, details });
}

export function packAnswersPath(slot: string): string {
  const reason = unsafeSegmentReason(slot);
  if (reason !== undefined) {
    throw new GreenticError("invalid-argument", `pack slot ${JSON.stringify(slot)} is not allowed: ${reason}`, {
      hint: "use a slot name such as `deployer`",
    });
  }
  return `env-packs/${slot}/answers.json`;
}
