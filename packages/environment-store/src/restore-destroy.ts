import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import {
  GreenticError,
  canonicalDigest,
  parseEnvironment,
  prettyJson,
  type AuditActor,
  type Environment,
} from "@greentic/deploy-spec/documents";
import { appendAuditEvent, lastAuditEvent } from "./audit-log.js";
import { parseBackupId } from "./backups.js";
import { commit } from "./commit.js";
import { recordGenerations } from "./commit-record.js";
import { fsyncDir, ioError, readIfExists } from "./fs-safe.js";
import { dropUnchanged, runMutation } from "./mutation.js";
import { stageRuntimeConfig } from "./plan-change.js";
import { AUDIT_DIR, DESTROYED_DIR, ENVIRONMENT_FILE, RUNTIME_FILE, type StoreCore } from "./store-core.js";
import type { AuditEventRecord, Precondition, TransactResult } from "./types.js";
import { checkBackup, listBackupInfos, type CurrentEnv } from "./verified-read.js";

// Restore and destroy: both may act on an environment whose document is corrupt, so they pin
// its raw state rather than requiring it to load.

export async function restore(
  core: StoreCore,
  envId: string,
  backupId: string,
  precondition: Precondition,
  options: { actor?: AuditActor | undefined } = {},
): Promise<TransactResult<{ restored: string; file: string }>> {
  const parsedId = typeof backupId === "string" ? parseBackupId(backupId) : undefined;
  if (!parsedId) {
    throw new GreenticError("invalid-argument", `backup id ${JSON.stringify(backupId)} is not a backup id`, {
      hint: "take an id from listBackups, e.g. environment.json.20260701T120000.123000000Z.bak",
    });
  }
  if (precondition?.if_match === undefined && precondition?.expected_generation === undefined) {
    throw new GreenticError(
      "precondition-failed",
      `restoring ${backupId} into environment ${envId} requires a precondition (if_match or expected_generation)`,
      {
        hint: "pin the state you are replacing: pass the current etag or generation (from load, or from the integrity error's details)",
      },
    );
  }
  const rel = parsedId.file;
  if (rel !== ENVIRONMENT_FILE && rel !== RUNTIME_FILE && !/^env-packs\/[^/]+\/answers\.json$/u.test(rel)) {
    throw new GreenticError(
      "invalid-argument",
      `backup ${backupId} is of ${rel}, which is derived and cannot be restored`,
      { hint: "restore environment.json instead; derived files follow it" },
    );
  }
  const target = { backup_id: backupId, file: rel };
  const mutation = { noun: "env", verb: "restore", actor: options.actor, precondition, target };
  type Restored = TransactResult<{ restored: string; file: string }>;
  return runMutation<never, Restored>(
    core,
    envId,
    mutation,
    { tolerateCorrupt: true },
    async (opened, lock) => {
      const { base, event } = opened;
      const pinned = opened.pinned!;
      const checked = await checkBackup(core, envId, backupId, rel);
      const side = new Map<string, unknown>();
      let environment: Record<string, unknown>;
      let generation: number;
      const raw = await readIfExists(join(core.envDir(envId), ENVIRONMENT_FILE));
      const previous = base?.generation ?? (pinned.generation >= 0 ? pinned.generation : undefined);
      if (rel === ENVIRONMENT_FILE) {
        const backups = await listBackupInfos(core, envId);
        // An unparseable file's generation is unknown: go above every generation on record.
        const lastAudited = (await lastAuditEvent(join(core.envDir(envId), AUDIT_DIR)))?.new_generation ?? 0;
        const recorded = (await recordGenerations(core, envId)).at(-1) ?? 0;
        const highest = Math.max(previous ?? 0, lastAudited, recorded, ...backups.map((b) => b.generation ?? 0));
        generation = highest + 1;
        environment = { ...(checked.content as Record<string, unknown>), generation };
        const parsedEnv = parseEnvironment(environment);
        if (parsedEnv.ok) stageRuntimeConfig(parsedEnv.value, side);
      } else {
        if (!base) throw core.notFound(envId);
        generation = Math.max(base.generation, (await recordGenerations(core, envId)).at(-1) ?? 0) + 1;
        environment = { ...base.environment, generation };
        side.set(rel, checked.content);
      }
      await dropUnchanged(core, envId, side);
      if (previous !== undefined) event.previous_generation = previous;
      event.new_generation = generation;
      const baseForCommit: CurrentEnv | undefined =
        raw === undefined
          ? undefined
          : { environment: base?.environment as Environment, etag: pinned.etag, generation: previous ?? -1, raw };
      const audit = await commit(core, envId, lock, { base: baseForCommit, environment, generation, side, event });
      const etag = canonicalDigest(JSON.parse(prettyJson(environment)));
      return { result: { restored: backupId, file: rel }, etag, generation, idempotency: "applied", audit };
    },
    neverReplayed,
  );
}

export async function destroy(
  core: StoreCore,
  envId: string,
  options: { actor?: AuditActor | undefined; precondition?: Precondition | undefined } = {},
): Promise<{ audit: AuditEventRecord }> {
  const mutation = {
    noun: "env",
    verb: "destroy",
    actor: options.actor,
    precondition: options.precondition,
    target: { environment_id: envId },
  };
  return runMutation<never, { audit: AuditEventRecord }>(
    core,
    envId,
    mutation,
    { tolerateCorrupt: true },
    async (opened, lock) => {
      const { event, now } = opened;
      const pinned = opened.pinned!;
      if (pinned.generation >= 0) event.previous_generation = pinned.generation;
      // The whole directory (audit log included) moves aside in one rename: history survives.
      const graveyard = join(core.root, DESTROYED_DIR);
      await mkdir(graveyard, { recursive: true, mode: 0o700 });
      const moved = join(graveyard, `${envId}-${now.replace(/[-:.]/gu, "")}-${event.event_id}`);
      await lock.assertOwned(envId);
      try {
        await rename(core.envDir(envId), moved);
        await fsyncDir(core.root);
        await fsyncDir(graveyard);
      } catch (error) {
        throw ioError("moving", core.envDir(envId), error);
      }
      try {
        return { audit: await appendAuditEvent(core.root, join(moved, AUDIT_DIR), event) };
      } catch (error) {
        throw new GreenticError(
          "audit",
          `environment ${envId} was destroyed (moved to ${moved}) but its audit event could not be written: ${(error as Error).message}`,
          {
            hint: "the environment is gone; its history is in the moved directory",
            details: { committed: true },
            cause: error,
          },
        );
      }
    },
    neverReplayed,
  );
}

/** Restore and destroy take no idempotency key, so the ledger never answers for them. */
function neverReplayed(): never {
  throw new Error("restore and destroy take no idempotency key");
}
