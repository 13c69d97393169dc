import * as fs from "node:fs";
import { rm, stat } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ulid } from "ulid";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { ensureDir, errnoCode, ioError, writeReplace } from "./fs-safe.js";

/** Who holds an environment's lock, as recorded inside the lock directory. */
export interface LockRecord {
  /** Random id of this acquisition; `forceUnlock` needs it. */
  id: string;
  pid: number;
  /** The holder's start time (`/proc/<pid>/stat` field 22, clock ticks since boot), so a reused pid is not mistaken for it. */
  pid_start?: string | undefined;
  host: string;
  user: string;
  /** What the holder is doing, e.g. `traffic set`. */
  operation: string;
  /** RFC 3339 UTC. */
  acquired_at: string;
}

export interface LockSettings {
  /** A lock whose mtime is older than this is reclaimed (proper-lockfile's minimum is 2000 ms). */
  staleMs: number;
  /** How long to wait for a held lock before failing with `locked`. */
  timeoutMs: number;
  /** Called once when the lock is held by someone else and the caller starts waiting. */
  onWait?: ((holder: LockRecord | undefined) => void) | undefined;
}

const OWNER_FILE = "owner.json";

/** Error codes that retrying the lock cannot fix: they are reported as `io` at once. */
const UNRECOVERABLE = new Set(["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EIO"]);

/** The errno code an `io` error of the store carries in its details. */
function ioCode(error: unknown): string | undefined {
  const code = error instanceof GreenticError ? (error.details as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === "string" ? code : undefined;
}

/** Lock directories held by this process; their removal is a release, not a stale reclaim. */
const heldHere = new Set<string>();

/**
 * proper-lockfile removes lock directories with `rmdir`, which fails once the owner record sits
 * inside. This fs shim removes them recursively, and before reclaiming a lock it believes stale
 * it checks the mtime again, so a lock that was just re-taken by another reclaimer is left alone.
 */
function lockFs(staleMs: number): typeof fs {
  const rmdir = (path: fs.PathLike, callback: (err: NodeJS.ErrnoException | null) => void): void => {
    const target = String(path);
    if (heldHere.has(target)) {
      fs.rm(target, { recursive: true }, callback);
      return;
    }
    fs.stat(target, (err, st) => {
      if (err) return callback(err);
      if (st.mtimeMs >= Date.now() - staleMs) {
        return callback(Object.assign(new Error("Lock file is already being held"), { code: "ELOCKED" }));
      }
      fs.rm(target, { recursive: true }, callback);
    });
  };
  const rmdirSync = (path: fs.PathLike): void => fs.rmSync(String(path), { recursive: true, force: true });
  return { ...fs, rmdir, rmdirSync } as unknown as typeof fs;
}

/** An acquired lock. `assertOwned` must pass right before every commit step. */
export class HeldLock {
  compromised: Error | undefined;
  constructor(
    readonly dir: string,
    readonly record: LockRecord,
    private readonly releaseFn: () => Promise<void>,
  ) {}

  /** Throws `locked` if the lock was compromised or another process now owns it. */
  async assertOwned(envId: string): Promise<void> {
    if (this.compromised === undefined) {
      const current = await readLockRecord(this.dir);
      if (current?.id === this.record.id) return;
      this.compromised = new Error(
        current ? `now held by ${describeHolder(current)}` : "the lock directory disappeared",
      );
    }
    throw new GreenticError(
      "locked",
      `lost the lock on environment ${envId} (${this.compromised.message}); the transaction was aborted before its commit point`,
      {
        hint: "retry; the next writer rolls back any partial work",
      },
    );
  }

  async release(): Promise<void> {
    try {
      await this.releaseFn();
    } catch {
      // Already released or compromised: the directory belongs to someone else now.
    } finally {
      heldHere.delete(this.dir);
    }
  }
}

export function describeHolder(r: LockRecord): string {
  return `pid ${r.pid} on ${r.host} (user ${r.user}, operation "${r.operation}", since ${r.acquired_at}, lock id ${r.id})`;
}

/** Reads the owner record of a lock directory; `undefined` if there is no (complete) record. */
export async function readLockRecord(lockDir: string): Promise<LockRecord | undefined> {
  try {
    const parsed = JSON.parse(fs.readFileSync(join(lockDir, OWNER_FILE), "utf8")) as LockRecord;
    return typeof parsed.id === "string" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

/**
 * Takes the lock directory `lockDir` (created by proper-lockfile with mkdir), writes the owner
 * record with a fresh nonce, then re-reads it: two processes can both reclaim the same stale
 * lock (proper-lockfile #121), and only the one whose nonce is on disk proceeds.
 */
export async function acquireLock(
  root: string,
  lockDir: string,
  envId: string,
  operation: string,
  settings: LockSettings,
): Promise<HeldLock> {
  const locksDir = join(lockDir, "..");
  await ensureDir(root, locksDir);
  // Loaded here, not at the top: reads never lock, and proper-lockfile with graceful-fs and
  // signal-exit is a noticeable share of a read verb's start-up.
  const { default: lockfile } = await import("proper-lockfile");
  const deadline = Date.now() + settings.timeoutMs;
  let delay = 5;
  let announced = false;
  for (;;) {
    let release: (() => Promise<void>) | undefined;
    let held: HeldLock | undefined;
    try {
      release = await lockfile.lock(lockDir.slice(0, -".lock".length), {
        lockfilePath: lockDir,
        realpath: false,
        stale: settings.staleMs,
        retries: 0,
        fs: lockFs(settings.staleMs),
        onCompromised: (err: Error) => {
          if (held) held.compromised = err;
        },
      });
    } catch (error) {
      const code = errnoCode(error);
      if (code !== "ELOCKED" && code !== "ENOENT" && code !== "ENOTEMPTY") throw ioError("locking", lockDir, error);
    }
    if (release) {
      heldHere.add(lockDir);
      const record: LockRecord = {
        id: ulid(),
        pid: process.pid,
        pid_start: processStart(process.pid),
        host: hostname(),
        user: currentUser(),
        operation,
        acquired_at: new Date().toISOString(),
      };
      held = new HeldLock(lockDir, record, release);
      try {
        // Not fsynced: a lock does not outlive a crash of the machine that holds it.
        await writeReplace(root, join(lockDir, OWNER_FILE), `${JSON.stringify(record)}\n`);
        const onDisk = await readLockRecord(lockDir);
        if (onDisk?.id === record.id && held.compromised === undefined) return held;
      } catch (error) {
        // The directory vanished under us: someone reclaimed it. Try again. Anything else (a
        // full disk, a read-only or unwritable store) will not go away by waiting for the lock.
        const code = errnoCode(error) ?? ioCode(error);
        if (code !== undefined && UNRECOVERABLE.has(code)) {
          await held.release();
          throw error instanceof GreenticError ? error : ioError("locking", lockDir, error);
        }
      }
      await held.release();
    }
    if (settings.onWait !== undefined && !announced && Date.now() < deadline) {
      announced = true;
      settings.onWait(await readLockRecord(lockDir));
    }
    if (Date.now() >= deadline) {
      const holder = await readLockRecord(lockDir);
      throw new GreenticError(
        "locked",
        `environment ${envId} is locked by ${holder ? describeHolder(holder) : "another process"}; gave up after ${settings.timeoutMs} ms`,
        {
          hint: `retry when it finishes; a lock whose holder died is reclaimed after ${settings.staleMs} ms, or remove it with forceUnlock and the lock id`,
          details: holder ? { lock: holder } : undefined,
        },
      );
    }
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())) * (0.5 + Math.random()));
    delay = Math.min(delay * 2, 100);
  }
}

/** A process's start time from `/proc/<pid>/stat` (field 22), or `undefined` when it is not running or unknown. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether the lock's holder is a process still running on this host (same pid and start time). */
export function holderAlive(holder: LockRecord): boolean {
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if (errnoCode(error) !== "EPERM") return false;
  }
  const start = processStart(holder.pid);
  return holder.pid_start === undefined || start === undefined || start === holder.pid_start;
}

/**
 * Removes a lock directory, but only if its owner record carries `lockId` and its holder is
 * not a process still running on this host: removing a live holder's lock would let a second
 * writer in beside it.
 */
export async function forceRemoveLock(lockDir: string, envId: string, lockId: string): Promise<LockRecord> {
  const holder = await readLockRecord(lockDir);
  if (!holder) {
    const exists = await stat(lockDir).then(
      () => true,
      () => false,
    );
    if (!exists)
      throw new GreenticError("not-found", `environment ${envId} is not locked`, { hint: "nothing to unlock" });
    throw new GreenticError(
      "precondition-failed",
      `the lock on environment ${envId} has no owner record yet; lock id ${lockId} cannot be matched`,
      {
        hint: "wait a moment and read lockInfo again",
      },
    );
  }
  if (holder.id !== lockId) {
    throw new GreenticError(
      "precondition-failed",
      `lock id ${lockId} does not match the lock on environment ${envId}, held by ${describeHolder(holder)}`,
      {
        hint: "read the current lock id with lockInfo and make sure its holder is really gone",
        details: { expected: lockId, actual: holder.id },
      },
    );
  }
  if (holderAlive(holder)) {
    throw new GreenticError(
      "locked",
      `the lock on environment ${envId} is held by ${describeHolder(holder)}, which is still running on this host; refusing to remove it`,
      {
        hint: `wait for it to finish, or stop process ${holder.pid} first; --force-unlock is for locks whose holder is gone`,
        details: { lock: holder },
      },
    );
  }
  await rm(lockDir, { recursive: true, force: true });
  return holder;
}
