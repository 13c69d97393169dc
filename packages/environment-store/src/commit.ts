import { lstatSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GreenticError, prettyJson, sha256Hex } from "@greentic/deploy-spec/documents";
import { AUDIT_FILE, appendAuditEvent, checkedTail, hasAuditLineAt, writeAuditLineAt } from "./audit-log.js";
import { BACKUPS_DIR, pruneBackups, writeBackup } from "./backups.js";
import {
  RECORDS_KEPT,
  publishRecord,
  pruneRecords,
  readRecord,
  recordGenerations,
  withdrawRecord,
  type CommitRecord,
} from "./commit-record.js";
import { assertNoSymlinks, ensureDir, errnoCode, ioError, readIfExists, writeReplace } from "./fs-safe.js";
import { evictLedger, ledgerFileName, type LedgerEntry } from "./ledger.js";
import type { HeldLock } from "./lock.js";
import { AUDIT_DIR, ENVIRONMENT_FILE, LEDGER_DIR, integrity, type StoreCore } from "./store-core.js";
import type { AuditEventRecord } from "./types.js";
import type { CurrentEnv } from "./verified-read.js";

// The commit protocol. Before the commit point nothing a reader sees is written (backups are
// new files). The commit point is publishing the generation's record (see `CommitRecord`):
// one fsynced file, linked exclusively, so a writer that lost its lock cannot commit. After
// it, the record is materialized: side files, ledger entry, read cache, environment.json and
// the audit line, none fsynced, all rewritten from the record by the next writer if a crash
// or a late, paused writer left them behind. Fsyncs per committed mutation: two (the record
// and its directory).

export interface CommitPlan {
  base: CurrentEnv | undefined;
  /** New `environment.json` document, or `undefined` when it does not change. */
  environment: Record<string, unknown> | undefined;
  generation: number;
  /** Side files: relative path → new content, or `null` to delete. */
  side: Map<string, unknown>;
  ledger?: LedgerEntry | undefined;
  event: AuditEventRecord;
}

function lostLock(envId: string, generation: number, why: string): GreenticError {
  return new GreenticError(
    "locked",
    `lost the lock on environment ${envId}: generation ${generation} ${why}; this change was not committed`,
    {
      hint: "another writer took over while this one was paused or slow; reload and retry",
      details: { committed: false, generation },
    },
  );
}

/**
 * Refuses to commit when the audit directory or log is not a real directory and file: a
 * change must never commit without its audit record landing where `op audit` reads it.
 */
export async function checkAuditPlace(auditDir: string): Promise<void> {
  for (const [path, want] of [
    [auditDir, "directory"],
    [join(auditDir, AUDIT_FILE), "file"],
  ] as const) {
    let st;
    try {
      st = lstatSync(path);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return;
      throw ioError("inspecting", path, error);
    }
    const ok = want === "directory" ? st.isDirectory() : st.isFile();
    if (!ok || st.isSymbolicLink())
      throw new GreenticError(
        "integrity",
        `${path} is not a real ${want}${st.isSymbolicLink() ? " (it is a symbolic link)" : ""}; refusing to commit a change whose audit event could land elsewhere`,
        { path, hint: `replace it with the environment's real audit ${want}` },
      );
  }
}

/** The side-file digests the newest record leaves, updated with this commit's writes. */
function nextState(
  previous: CommitRecord | undefined,
  writes: [string, string | null][],
): Record<string, string | null> {
  const state: Record<string, string | null> = { ...(previous?.state ?? {}) };
  for (const [rel, content] of writes) {
    if (rel.startsWith(`${LEDGER_DIR}/`)) continue;
    state[rel] = content === null ? null : sha256Hex(content);
  }
  return state;
}

/**
 * Writes a planned change and returns its audit event as written. A change of generation
 * goes through a commit record; a no-op (same generation) only appends its audit event and
 * records its ledger entry, under the lock.
 */
export async function commit(
  core: StoreCore,
  envId: string,
  lock: HeldLock,
  plan: CommitPlan,
): Promise<AuditEventRecord> {
  const dir = core.envDir(envId);
  const auditDir = join(dir, AUDIT_DIR);
  await ensureDir(core.root, dir);
  await checkAuditPlace(auditDir);
  // Chain the event now so the record and the ledger hold it exactly as the log will.
  const tail = await checkedTail(auditDir, false);
  if (tail.tailHash !== undefined) plan.event.prev_hash = tail.tailHash;
  else delete plan.event.prev_hash;

  const writes: [string, string | null][] = [];
  for (const [rel, value] of plan.side)
    writes.push([rel, value === null || value === undefined ? null : prettyJson(value)]);
  const ledgerRel = plan.ledger ? `${LEDGER_DIR}/${ledgerFileName(plan.generation, plan.ledger.key)}` : undefined;
  if (plan.ledger && ledgerRel) writes.push([ledgerRel, prettyJson(plan.ledger)]);

  if (!plan.environment) {
    await lock.assertOwned(envId);
    if (plan.ledger && ledgerRel) await writeReplace(core.root, join(dir, ledgerRel), prettyJson(plan.ledger));
    const written = await appendCommittedEvent(core, envId, plan, () =>
      appendAuditEvent(core.root, auditDir, plan.event),
    );
    if (plan.ledger) await evictLedger(join(dir, LEDGER_DIR), core.ledgerCapacity);
    return written;
  }

  const generations = await recordGenerations(core, envId);
  const newest = generations.at(-1);
  if (newest !== undefined && plan.generation <= newest)
    throw lostLock(envId, plan.generation, `is already committed (commits/ holds ${newest})`);
  const previous = newest === undefined ? undefined : await readRecord(core, envId, newest);
  if (previous !== undefined && tail.size < previous.audit_offset)
    throw integrity(
      `${join(auditDir, AUDIT_FILE)} is ${tail.size} bytes, but committed generation ${previous.generation}'s event belongs at byte ${previous.audit_offset}: audit events were deleted`,
      join(auditDir, AUDIT_FILE),
      "restore the audit log from a copy; no change is committed without its history",
    );

  // Every path this commit writes is checked now: after the commit point a write cannot be refused.
  for (const [rel] of writes) {
    await ensureDir(core.root, dirname(join(dir, rel)));
    await assertNoSymlinks(core.root, join(dir, rel));
  }
  // Backups of what this commit replaces: new files, so they are written before the commit point.
  const backedUp: string[] = [];
  const backupFiles: string[] = [];
  // A failure before the commit point (a full disk, a lost lock) leaves the store as it was:
  // the backups this attempt wrote go again.
  const withdrawBackups = async (error: unknown): Promise<never> => {
    for (const id of backupFiles) await unlink(join(dir, BACKUPS_DIR, id)).catch(() => {});
    throw error;
  };
  try {
    for (const [rel] of writes) {
      if (rel === ledgerRel) continue;
      const current = await readIfExists(join(dir, rel));
      if (current !== undefined) {
        backupFiles.push(await writeBackup(core.root, dir, rel, current));
        backedUp.push(rel);
      }
    }
    if (plan.base) {
      backupFiles.push(await writeBackup(core.root, dir, ENVIRONMENT_FILE, plan.base.raw));
      backedUp.push(ENVIRONMENT_FILE);
    }
  } catch (error) {
    await withdrawBackups(error);
  }

  const envText = prettyJson(plan.environment);
  const record: CommitRecord = {
    schema: "greentic.store-commit.v1",
    generation: plan.generation,
    base_generation: plan.base && plan.base.generation >= 0 ? plan.base.generation : null,
    lock_id: lock.record.id,
    env_sha256: sha256Hex(envText),
    replaces_sha256: plan.base ? sha256Hex(plan.base.raw) : null,
    state: nextState(previous, writes),
    files: [...writes.map(([path, content]) => ({ path, content })), { path: ENVIRONMENT_FILE, content: envText }],
    event: plan.event,
    audit_offset: tail.size,
    audit_lines: tail.lines,
  };
  if (record.base_generation !== null && record.base_generation >= record.generation) record.base_generation = null;
  await lock.assertOwned(envId).catch(withdrawBackups);
  if (!(await publishRecord(core, envId, record).catch(withdrawBackups)))
    await withdrawBackups(lostLock(envId, plan.generation, "was committed by another writer first"));
  // Overtaken: newer records exist, so this writer was paused past the stale period after
  // linking its record. If the writer that took the lock rolled this record forward (its event
  // sits at the record's audit offset), the change is committed and built on: it is reported
  // as committed, and nothing more is written (the files belong to the newer generations now).
  // Otherwise the record was linked under a name pruned while this writer was paused, far
  // below the newest: a zombie, withdrawn and not a commit.
  const after = await recordGenerations(core, envId);
  if (after.at(-1) !== plan.generation) {
    if (hasAuditLineAt(auditDir, record.event, record.audit_offset)) return record.event;
    await withdrawRecord(core, envId, plan.generation);
    throw lostLock(envId, plan.generation, `was overtaken (commits/ holds ${after.at(-1)})`);
  }
  const written = await appendCommittedEvent(core, envId, plan, async () => {
    await materialize(core, envId, record);
    return record.event;
  });
  // Housekeeping after the commit: failures here never undo or fail a committed change.
  for (const rel of backedUp) await pruneBackups(dir, rel, core.retention);
  if (plan.ledger) await evictLedger(join(dir, LEDGER_DIR), core.ledgerCapacity);
  await pruneRecords(core, envId);
  void RECORDS_KEPT;
  return written;
}

/** Runs the post-commit writes; a failure is `audit` saying the change is committed. */
async function appendCommittedEvent(
  core: StoreCore,
  envId: string,
  plan: CommitPlan,
  write: () => Promise<AuditEventRecord>,
): Promise<AuditEventRecord> {
  try {
    return await write();
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    const code = errnoCode(error) ?? errnoCode((error as { cause?: unknown }).cause);
    const full = code === "ENOSPC" || code === "EDQUOT";
    throw new GreenticError(
      "audit",
      `environment ${envId}: the change committed (generation ${plan.generation}) but its audit event could not be written: ${cause}`,
      {
        hint: full
          ? "the change is in effect; the file system is full: free some space, and the next change to this environment writes the pending files and audit event first"
          : "the change is in effect; fix the audit log (see the path) and the pending event is written by the next mutation",
        path: join(core.envDir(envId), AUDIT_DIR, AUDIT_FILE),
        details: { committed: true, generation: plan.generation },
        cause: error,
      },
    );
  }
}

/**
 * Makes the files agree with `record`: each file it wrote, the read cache, environment.json
 * and the audit line at its offset. Idempotent, and safe to run twice at once with the same
 * record (a recovery and a paused writer that resumes): both write the same bytes.
 */
export async function materialize(
  core: StoreCore,
  envId: string,
  record: CommitRecord,
  options: { skipEnvironment?: boolean } = {},
): Promise<void> {
  const dir = core.envDir(envId);
  await checkAuditPlace(join(dir, AUDIT_DIR));
  let envText: string | undefined;
  if (!options.skipEnvironment) {
    for (const { path, content } of record.files) {
      if (path === ENVIRONMENT_FILE) {
        envText = content ?? undefined;
        continue;
      }
      const current = await readIfExists(join(dir, path));
      if (content === null) {
        if (current !== undefined) await unlink(join(dir, path)).catch(() => {});
      } else if (current === undefined || current.toString("utf8") !== content) {
        await writeReplace(core.root, join(dir, path), content);
      }
    }
    if (envText !== undefined) {
      const bytes = Buffer.from(envText);
      const current = await readIfExists(join(dir, ENVIRONMENT_FILE)).catch(() => undefined);
      if (current === undefined || !current.equals(bytes)) {
        await writeReplace(core.root, join(dir, ENVIRONMENT_FILE), bytes);
      }
    }
  }
  await writeAuditLineAt(core.root, join(dir, AUDIT_DIR), record.event, record.audit_offset, record.audit_lines);
}
