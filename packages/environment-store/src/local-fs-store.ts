import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { GreenticError, prettyJson, type AuditActor, type EnvironmentRuntime } from "@greentic/deploy-spec/documents";
import { AUDIT_FILE, appendAuditEvent, listAuditEvents, scanLines, verifyAuditLog } from "./audit-log.js";
import { BACKUPS_DIR } from "./backups.js";
import { newestRecord, recordName } from "./commit-record.js";
import { assertSafeEnvId } from "./env-id.js";
import { assertNoSymlinks, ensureDir, errnoCode, fsyncDir, ioError, readIfExists } from "./fs-safe.js";
import { forceRemoveLock, readLockRecord, type LockRecord } from "./lock.js";
import { migrateDev, migrateState } from "./migrations.js";
import { checkMutation, decide, deny, newEvent, transact } from "./mutation.js";
import { recover, withLock } from "./recovery.js";
import { destroy, restore } from "./restore-destroy.js";
import {
  AUDIT_DIR,
  COMMITS_DIR,
  DATA_DIR,
  ENVIRONMENT_FILE,
  RUNTIME_CONFIG_FILE,
  RUNTIME_FILE,
  StoreCore,
  packAnswersPath,
  type LocalFsStoreOptions,
} from "./store-core.js";
import type {
  AuditEventRecord,
  AuditQuery,
  AuditVerification,
  BackupInfo,
  EnvironmentSnapshot,
  EnvironmentStore,
  EnvironmentSummary,
  LoadedEnvironment,
  LocalStoreAdministration,
  MigrateDevApplied,
  MigrateDevCheck,
  MigrateStateApplied,
  MigrateStateCheck,
  MutationCheck,
  Precondition,
  TransactOptions,
  TransactResult,
  Transform,
} from "./types.js";
import { listBackupInfos, listEnvironments, parseJson, readEnv, readRuntime, readSide } from "./verified-read.js";

export { ENVIRONMENT_FILE, RUNTIME_CONFIG_FILE, RUNTIME_FILE, type LocalFsStoreOptions } from "./store-core.js";
export { defaultStoreRoot } from "./store-core.js";

/**
 * The local filesystem `EnvironmentStore`: `<root>/<env_id>/` laid out like the reference
 * (environment.json, runtime.json, runtime-config.json, env-packs/<slot>/answers.json,
 * audit/events.jsonl, backups/), plus `idempotency/` (the ledger), `data/<area>/` (local
 * handlers' artefacts) and `.txn.json` (the commit journal). Locks live in
 * `<root>/.locks/<env_id>.lock/`; destroyed environments move to `<root>/.destroyed/`.
 *
 * This class wires the store's modules together: verified reads (`verified-read.ts`), locking
 * and crash recovery (`recovery.ts`), the mutation pipeline (`mutation.ts`), the commit
 * protocol (`commit.ts`), the read cache (`read-cache.ts`) and restore/destroy
 * (`restore-destroy.ts`).
 */
export class LocalFsStore implements EnvironmentStore, LocalStoreAdministration {
  /** Absolute environments root. */
  readonly root: string;
  private readonly core: StoreCore;

  constructor(options: LocalFsStoreOptions = {}) {
    this.core = new StoreCore(options);
    this.root = this.core.root;
  }

  // ---- reads ------------------------------------------------------------------------------

  async list(): Promise<EnvironmentSummary[]> {
    return listEnvironments(this.core);
  }

  async exists(envId: string): Promise<boolean> {
    assertSafeEnvId(envId);
    return (await readIfExists(join(this.core.envDir(envId), ENVIRONMENT_FILE))) !== undefined;
  }

  async load(envId: string): Promise<LoadedEnvironment> {
    assertSafeEnvId(envId);
    const current = await readEnv(this.core, envId, true);
    if (!current) throw this.core.notFound(envId);
    const runtime = await readRuntime(this.core, envId, current.generation);
    const out: LoadedEnvironment = {
      environment: current.environment,
      etag: current.etag,
      generation: current.generation,
    };
    if (runtime !== undefined) out.runtime = runtime;
    return out;
  }

  async loadRuntime(envId: string): Promise<EnvironmentRuntime | undefined> {
    const current = await this.load(envId);
    return current.runtime;
  }

  async loadPackAnswers(envId: string, slot: string): Promise<unknown> {
    assertSafeEnvId(envId);
    const rel = packAnswersPath(slot);
    const current = await readEnv(this.core, envId, true);
    if (!current) throw this.core.notFound(envId);
    const raw = await readSide(this.core, envId, rel, current.generation);
    return raw === undefined ? undefined : parseJson(this.core, envId, rel, raw);
  }

  /**
   * A directory (mode 0700) for local handlers' artefacts: staged bundles, process records, dev
   * secrets. Created unless `create` is false: readers ask for the path only, so a read verb
   * never writes and works on a read-only store (the directory may then not exist).
   */
  async dataDir(envId: string, area: string, options: { create?: boolean } = {}): Promise<string> {
    assertSafeEnvId(envId);
    assertSafeEnvId(area, "data area");
    const dir = join(this.core.envDir(envId), DATA_DIR, area);
    if (options.create === false) await assertNoSymlinks(this.root, dir);
    else await ensureDir(this.root, dir);
    return dir;
  }

  runtimeConfigFile(envId: string): string {
    assertSafeEnvId(envId);
    return join(this.core.envDir(envId), RUNTIME_CONFIG_FILE);
  }

  async lockInfo(envId: string): Promise<LockRecord | undefined> {
    assertSafeEnvId(envId);
    return readLockRecord(this.core.lockDir(envId));
  }

  async forceUnlock(envId: string, lockId: string): Promise<LockRecord> {
    assertSafeEnvId(envId);
    return forceRemoveLock(this.core.lockDir(envId), envId, lockId);
  }

  async listAudit(envId: string, query: AuditQuery = {}): Promise<AuditEventRecord[]> {
    assertSafeEnvId(envId);
    const newest = await newestRecord(this.core, envId);
    return listAuditEvents(join(this.core.envDir(envId), AUDIT_DIR), query, newest?.event);
  }

  /**
   * Walks the hash chain (see `verifyAuditLog`) and checks it against the newest commit
   * record: the log must hold the committed generation's event at its byte offset (or end
   * exactly there, the event not yet written after a crash). A deleted or truncated log is
   * reported, not read as "intact (0 events)".
   */
  async verifyAudit(envId: string): Promise<AuditVerification> {
    assertSafeEnvId(envId);
    const dir = join(this.core.envDir(envId), AUDIT_DIR);
    const chain = await verifyAuditLog(dir);
    if (!chain.ok) return chain;
    const newest = await newestRecord(this.core, envId);
    if (newest === undefined) return chain;
    const file = join(dir, AUDIT_FILE);
    const line = Buffer.from(`${JSON.stringify(newest.event)}\n`);
    const { size, at } = await readAt(file, newest.audit_offset, line.length);
    const pending = size === newest.audit_offset;
    if (size < newest.audit_offset || (!pending && !at.equals(line))) {
      return {
        ok: false,
        lines: chain.lines,
        line: Math.min(chain.lines, newest.audit_lines) + 1,
        reason: `generation ${newest.generation} was committed (${COMMITS_DIR}/${recordName(newest.generation)}) with event ${newest.event.event_id} at byte ${newest.audit_offset} of ${AUDIT_FILE}, which ${size < newest.audit_offset ? `has only ${size} bytes: events were deleted` : "holds something else: the log was edited"}`,
      };
    }
    return chain;
  }

  /**
   * Everything the store holds of `envId`, for `op store copy`: refused (`integrity`) unless
   * the document loads and the audit log verifies, so that only a sound environment moves.
   */
  async exportEnvironment(envId: string): Promise<EnvironmentSnapshot> {
    assertSafeEnvId(envId);
    const loaded = await this.load(envId);
    const verified = await this.verifyAudit(envId);
    if (!verified.ok)
      throw new GreenticError(
        "integrity",
        `environment ${envId}: its audit log does not verify (line ${verified.line}: ${verified.reason}); refusing to copy it`,
        { hint: `run \`op audit verify ${envId}\` and repair the log first` },
      );
    const side: Record<string, unknown> = {};
    if (loaded.runtime !== undefined) side[RUNTIME_FILE] = loaded.runtime;
    for (const slot of new Set(loaded.environment.packs.map((p) => p.slot))) {
      const answers = await this.loadPackAnswers(envId, slot);
      if (answers !== undefined) side[packAnswersPath(slot)] = answers;
    }
    const auditLines: string[] = [];
    await scanLines(join(this.core.envDir(envId), AUDIT_DIR, AUDIT_FILE), (line) => {
      auditLines.push(line);
    });
    const backups: EnvironmentSnapshot["backups"] = [];
    for (const b of await this.listBackups(envId)) {
      const raw = await readIfExists(join(this.core.envDir(envId), BACKUPS_DIR, b.backup_id));
      if (raw !== undefined) backups.push({ backup_id: b.backup_id, file: b.file, content: raw.toString("utf8") });
    }
    return {
      environment_id: envId,
      generation: loaded.generation,
      etag: loaded.etag,
      document: prettyJson(loaded.environment),
      side,
      audit_lines: auditLines,
      backups: backups.reverse(),
    };
  }

  async listBackups(envId: string): Promise<BackupInfo[]> {
    assertSafeEnvId(envId);
    return listBackupInfos(this.core, envId);
  }

  // ---- mutations --------------------------------------------------------------------------

  async checkMutation<R = unknown>(envId: string, options: TransactOptions): Promise<MutationCheck<R>> {
    assertSafeEnvId(envId);
    return checkMutation<R>(this.core, envId, options);
  }

  async transact<R>(envId: string, fn: Transform<R>, options: TransactOptions): Promise<TransactResult<R>> {
    assertSafeEnvId(envId);
    return transact(this.core, envId, fn, options);
  }

  async restore(
    envId: string,
    backupId: string,
    precondition: Precondition,
    options: { actor?: AuditActor | undefined } = {},
  ): Promise<TransactResult<{ restored: string; file: string }>> {
    assertSafeEnvId(envId);
    return restore(this.core, envId, backupId, precondition, options);
  }

  async destroy(
    envId: string,
    options: { actor?: AuditActor | undefined; precondition?: Precondition | undefined } = {},
  ): Promise<{ audit: AuditEventRecord }> {
    assertSafeEnvId(envId);
    return destroy(this.core, envId, options);
  }

  // ---- migrations -------------------------------------------------------------------------

  migrateDev(target: string, options: { mode: "check"; actor?: AuditActor }): Promise<MigrateDevCheck>;
  migrateDev(target: string, options: { mode: "apply"; actor?: AuditActor }): Promise<MigrateDevApplied>;
  async migrateDev(
    target: string,
    options: { mode: "check" | "apply"; actor?: AuditActor },
  ): Promise<MigrateDevCheck | MigrateDevApplied> {
    return migrateDev(this, target, options);
  }

  migrateState(envId: string, options: { mode: "check"; stateDir?: string }): Promise<MigrateStateCheck>;
  migrateState(
    envId: string,
    options: { mode: "apply"; stateDir?: string; actor?: AuditActor },
  ): Promise<MigrateStateApplied>;
  async migrateState(
    envId: string,
    options: { mode: "check" | "apply"; stateDir?: string; actor?: AuditActor },
  ): Promise<MigrateStateCheck | MigrateStateApplied> {
    return migrateState(this, envId, options);
  }

  /** @internal Used by migrations: renames an environment directory aside under its lock. */
  async renameAside(envId: string, prefix: string): Promise<string | undefined> {
    return withLock(this.core, envId, "migrate rename", async (lock) => {
      await lock.assertOwned(envId);
      const from = this.core.envDir(envId);
      const exists = await stat(from).then(
        () => true,
        () => false,
      );
      if (!exists) return undefined;
      const name = `${prefix}${new Date().toISOString().replace(/[-:.]/gu, "")}`;
      await rename(from, join(this.root, name));
      await fsyncDir(this.root);
      return name;
    });
  }

  /** @internal Appends an audit event for an action outside `transact` (migrate-state). */
  async auditAction(
    envId: string,
    actor: AuditActor,
    noun: string,
    verb: string,
    target: unknown,
    body: () => Promise<unknown>,
  ): Promise<void> {
    await withLock(this.core, envId, `${noun} ${verb}`, async (lock) => {
      await recover(this.core, envId, lock);
      const event = newEvent(
        envId,
        actor,
        noun,
        verb,
        target,
        await decide(this.core, actor, envId, noun, verb, target),
        new Date().toISOString(),
      );
      if (event.authorization.decision !== "allow") throw await deny(this.core, envId, event);
      await body();
      await appendAuditEvent(this.root, join(this.core.envDir(envId), AUDIT_DIR), event).catch((error: unknown) => {
        throw new GreenticError(
          "audit",
          `${noun} ${verb} for ${envId} committed but its audit event could not be written: ${(error as Error).message}`,
          {
            details: { committed: true },
            cause: error,
          },
        );
      });
    });
  }
}

/** The file's size and up to `length` bytes at `offset` (an absent file is empty). */
async function readAt(file: string, offset: number, length: number): Promise<{ size: number; at: Buffer }> {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { size: 0, at: Buffer.alloc(0) };
    throw ioError("reading", file, error);
  }
  try {
    const { size } = fstatSync(fd);
    const at = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
    if (at.length > 0) readSync(fd, at, 0, at.length, offset);
    return { size, at };
  } finally {
    closeSync(fd);
  }
}
