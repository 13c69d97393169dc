import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { appendAuditEvent, lastAuditEvent } from "./audit-log.js";
import { BACKUPS_DIR } from "./backups.js";
import { readIfExists, removeDurable, writeAtomic } from "./fs-safe.js";
import { readJournal } from "./journal.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { AUDIT_DIR, JOURNAL_FILE, integrity, type StoreCore } from "./store-core.js";
import { rawGeneration } from "./verified-read.js";

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

/** Finishes or undoes a transaction interrupted by a crash (see {@link Journal}). */
export async function recover(core: StoreCore, envId: string, lock: HeldLock): Promise<void> {
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
