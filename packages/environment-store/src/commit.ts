import { join } from "node:path";
import { GreenticError, prettyJson } from "@greentic/deploy-spec";
import { AUDIT_FILE, appendAuditEvent, nextPrevHash } from "./audit-log.js";
import { pruneBackups, writeBackup } from "./backups.js";
import { ensureDir, readIfExists, removeDurable, writeAtomic } from "./fs-safe.js";
import type { Journal } from "./journal.js";
import { evictLedger, ledgerFileName, type LedgerEntry } from "./ledger.js";
import type { HeldLock } from "./lock.js";
import { writeVerified } from "./read-cache.js";
import { AUDIT_DIR, ENVIRONMENT_FILE, JOURNAL_FILE, LEDGER_DIR, type StoreCore } from "./store-core.js";
import type { AuditEventRecord } from "./types.js";
import type { CurrentEnv } from "./verified-read.js";

// The commit protocol: backups, journal, side files, ledger entry, environment.json (the
// commit point), audit event, journal removal, then housekeeping.

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

/**
 * Writes a planned change: backups, journal, side files, ledger entry, environment.json (the
 * commit point), audit event, then removes the journal. Returns the audit event as written.
 */
export async function commit(
  core: StoreCore,
  envId: string,
  lock: HeldLock,
  plan: CommitPlan,
): Promise<AuditEventRecord> {
  const dir = core.envDir(envId);
  await ensureDir(core.root, dir);
  const files: Journal["files"] = [];
  // Chain the event now so the ledger records it exactly as it will appear in the log.
  const prevHash = await nextPrevHash(join(dir, AUDIT_DIR));
  if (prevHash !== undefined) plan.event.prev_hash = prevHash;
  const writes: [string, Uint8Array | null][] = [];
  for (const [rel, value] of plan.side) {
    writes.push([rel, value === null || value === undefined ? null : Buffer.from(prettyJson(value))]);
  }
  if (plan.ledger)
    writes.push([
      `${LEDGER_DIR}/${ledgerFileName(plan.generation, plan.ledger.key)}`,
      Buffer.from(prettyJson(plan.ledger)),
    ]);
  await lock.assertOwned(envId);
  for (const [rel] of writes) {
    const current = rel.startsWith(`${LEDGER_DIR}/`) ? undefined : await readIfExists(join(dir, rel));
    files.push({
      path: rel,
      prior: current === undefined ? null : await writeBackup(core.root, dir, rel, current),
    });
  }
  const envBackup =
    plan.environment && plan.base ? await writeBackup(core.root, dir, ENVIRONMENT_FILE, plan.base.raw) : undefined;
  const journal: Journal = {
    schema: "greentic.store-journal.v1",
    base_generation: plan.base ? plan.base.generation : null,
    generation: plan.generation,
    files,
    event: plan.event,
  };
  await lock.assertOwned(envId);
  await writeAtomic(core.root, join(dir, JOURNAL_FILE), prettyJson(journal));
  for (const [rel, content] of writes) {
    if (content === null) await removeDurable(core.root, join(dir, rel));
    else await writeAtomic(core.root, join(dir, rel), content);
  }
  if (plan.environment) {
    const bytes = Buffer.from(prettyJson(plan.environment));
    await lock.assertOwned(envId);
    // Before the commit point: until environment.json holds these bytes the record matches nothing.
    await writeVerified(core, envId, bytes);
    await writeAtomic(core.root, join(dir, ENVIRONMENT_FILE), bytes);
  }
  let written: AuditEventRecord;
  try {
    written = await appendAuditEvent(core.root, join(dir, AUDIT_DIR), plan.event);
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new GreenticError(
      "audit",
      `environment ${envId}: the change committed (generation ${plan.generation}) but its audit event could not be written: ${cause}`,
      {
        hint: "the change is in effect; fix the audit log (see the path) and the pending event is appended by the next mutation",
        path: join(dir, AUDIT_DIR, AUDIT_FILE),
        details: { committed: true, generation: plan.generation },
        cause: error,
      },
    );
  }
  await removeDurable(core.root, join(dir, JOURNAL_FILE));
  // Housekeeping after the commit: failures here never undo or fail a committed change.
  const touched = [
    ...files.filter((f) => f.prior !== null).map((f) => f.path),
    ...(envBackup ? [ENVIRONMENT_FILE] : []),
  ];
  for (const rel of touched) await pruneBackups(dir, rel, core.retention);
  if (plan.ledger) await evictLedger(join(dir, LEDGER_DIR), core.ledgerCapacity);
  return written;
}
