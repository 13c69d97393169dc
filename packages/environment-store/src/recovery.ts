import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { appendAuditEvent, lastAuditEvent } from "./audit-log.js";
import { BACKUPS_DIR } from "./backups.js";
import { readIfExists, removeDurable, removeStaleTemps, writeAtomic } from "./fs-safe.js";
import { readJournal } from "./journal.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { AUDIT_DIR, COMMITS_DIR, JOURNAL_FILE, LEDGER_DIR, integrity, type StoreCore } from "./store-core.js";
import { envState, rawGeneration, readEnv } from "./verified-read.js";
import { materialize } from "./commit.js";

// Locking and crash recovery: one writer per environment, and the first thing it does is
// finish or undo what a crashed writer left behind.

/** Serialises work on one environment: an in-process queue, then the cross-process lock. */
export async function withLock<T>(
  core: StoreCore,
  envId: string,
  operation: string,
  body: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const previous = core.queues.get(envId) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => {
    done = r;
  });
  const tail = previous.then(() => mine);
  core.queues.set(envId, tail);
  await previous;
  try {
    const lock = await acquireLock(core.root, core.lockDir(envId), envId, operation, {
      staleMs: core.staleMs,
      timeoutMs: core.timeoutMs,
      onWait: core.onLockWait && ((holder) => core.onLockWait?.(envId, holder)),
    });
    try {
      return await body(lock);
    } finally {
      await lock.release();
    }
  } finally {
    done();
    if (core.queues.get(envId) === tail) core.queues.delete(envId);
  }
}

/**
 * Finishes what a crashed or paused writer left behind, before this writer reads anything:
 * the newest commit record is materialized (see `commit.ts`), stale temp files are removed,
 * and a legacy journal (`.txn.json`, from before commit records) is finished or undone. With
 * `tolerateTampered` (restore, destroy), a hand-edited or deleted environment.json is left
 * for the caller instead of failing with `integrity`.
 */
export async function recover(
  core: StoreCore,
  envId: string,
  lock: HeldLock,
  options: { tolerateTampered?: boolean } = {},
): Promise<void> {
  const dir = core.envDir(envId);
  for (const sub of ["", COMMITS_DIR, AUDIT_DIR, LEDGER_DIR]) await removeStaleTemps(join(dir, sub));
  await recoverJournal(core, envId, lock);
  const state = await envState(core, envId);
  // Nothing to finish: no records yet, or the reference wrote on top of our last commit (its
  // files must not be rewritten from that record).
  if (state.kind === "legacy" || state.kind === "foreign") return;
  await lock.assertOwned(envId);
  if (state.kind === "tampered" && !options.tolerateTampered) await readEnv(core, envId, true); // throws
  try {
    await materialize(core, envId, state.record, { skipEnvironment: state.kind === "tampered" });
  } catch (error) {
    if (error instanceof GreenticError && error.kind === "integrity") throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new GreenticError(
      "audit",
      `environment ${envId}: generation ${state.record.generation} is committed but its files or audit event are still missing and cannot be written (${message}); no further change is accepted until they are`,
      {
        hint: error instanceof GreenticError ? error.hint : "make the store writable again",
        path: error instanceof GreenticError ? error.path : undefined,
        cause: error,
      },
    );
  }
}

/** Finishes or undoes a transaction of the legacy journal (see {@link Journal}). */
async function recoverJournal(core: StoreCore, envId: string, lock: HeldLock): Promise<void> {
  const journal = await readJournal(core, envId);
  if (!journal) return;
  const dir = core.envDir(envId);
  const committed = await rawGeneration(core, envId);
  await lock.assertOwned(envId);
  if (committed === journal.generation && !(journal.base_generation === null && committed === null)) {
    const auditDir = join(dir, AUDIT_DIR);
    if ((await lastAuditEvent(auditDir))?.event_id !== journal.event.event_id) {
      try {
        await appendAuditEvent(core.root, auditDir, journal.event);
      } catch (error) {
        if (error instanceof GreenticError && error.kind === "audit") {
          throw new GreenticError(
            "audit",
            `environment ${envId}: the audit event of committed generation ${journal.generation} is still missing and cannot be written (${error.message}); no further change is accepted until it is`,
            { hint: error.hint, path: error.path, cause: error },
          );
        }
        throw error;
      }
    }
  } else if (committed === journal.base_generation) {
    for (const file of journal.files) {
      const target = join(dir, file.path);
      if (file.prior === null) await removeDurable(core.root, target);
      else {
        const prior = await readIfExists(join(dir, BACKUPS_DIR, file.prior));
        if (prior === undefined)
          throw integrity(
            `journal of environment ${envId} needs backup ${file.prior}, which is missing`,
            target,
            "restore the file by hand from backups/",
          );
        await writeAtomic(core.root, target, prior);
      }
    }
  } else {
    throw integrity(
      `${join(dir, JOURNAL_FILE)} is for generation ${journal.base_generation} -> ${journal.generation}, but environment.json is at ${String(committed)}`,
      join(dir, JOURNAL_FILE),
      "restore environment.json from a backup; the journal is removed by the next successful transaction",
    );
  }
  await removeDurable(core.root, join(dir, JOURNAL_FILE));
}
