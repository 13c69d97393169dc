import { mkdir, readdir, rename, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { monotonicFactory } from "ulid";
import {
  EnvironmentRuntimeSchema,
  GreenticError,
  canonicalDigest,
  canonicalJson,
  issuesError,
  parseDocument,
  parseEnvironment,
  prettyJson,
  projectRuntimeConfig,
  sha256Hex,
  type AuditActor,
  type AuditDecision,
  type Environment,
  type EnvironmentRuntime,
} from "@greentic/deploy-spec";
import {
  AUDIT_FILE,
  appendAuditEvent,
  lastAuditEvent,
  listAuditEvents,
  nextPrevHash,
  verifyAuditLog,
} from "./audit-log.js";
import { authorizeLocalOwner, localActor } from "./authorize.js";
import { BACKUPS_DIR, listBackupFiles, parseBackupId, pruneBackups, writeBackup } from "./backups.js";
import { assertSafeEnvId, unsafeSegmentReason } from "./env-id.js";
import { DEPLOYER_ANSWERS_FILE, VERIFIED_FILE, defaultStoreRoot, type VerifiedRecord } from "./fast-read.js";
import { ensureDir, errnoCode, fsyncDir, ioError, readIfExists, removeDurable, writeAtomic } from "./fs-safe.js";
import {
  checkIdempotencyKey,
  evictLedger,
  findLedgerEntry,
  ledgerFileName,
  replayedError,
  type LedgerEntry,
} from "./ledger.js";
import { acquireLock, forceRemoveLock, readLockRecord, type HeldLock, type LockRecord } from "./lock.js";
import { migrateDev, migrateState } from "./migrations.js";
import type {
  AuditEventRecord,
  AuditQuery,
  AuditVerification,
  Authorizer,
  BackupInfo,
  EnvironmentStore,
  EnvironmentSummary,
  LoadedEnvironment,
  MigrateDevApplied,
  MutationCheck,
  MigrateDevCheck,
  MigrateStateApplied,
  MigrateStateCheck,
  Precondition,
  TransactContext,
  TransactOptions,
  TransactResult,
  Transform,
} from "./types.js";

export const ENVIRONMENT_FILE = "environment.json";
export const RUNTIME_FILE = "runtime.json";
export const RUNTIME_CONFIG_FILE = "runtime-config.json";
const AUDIT_DIR = "audit";
const LEDGER_DIR = "idempotency";
const DATA_DIR = "data";
const JOURNAL_FILE = ".txn.json";
const LOCKS_DIR = ".locks";
const DESTROYED_DIR = ".destroyed";

export interface LocalFsStoreOptions {
  /** The environments root (`<root>/<env_id>/`). Default `$GREENTIC_HOME/environments`, else `~/.greentic/environments`. */
  root?: string | undefined;
  /** A lock not refreshed for this long belongs to a dead holder and is reclaimed. Default 10 000 ms (minimum 2 000). */
  lockStaleMs?: number | undefined;
  /** How long to wait for a held lock before failing with `locked`. Default 30 000 ms. */
  lockTimeoutMs?: number | undefined;
  /** Backups kept per file. Default 50. */
  backupRetention?: number | undefined;
  /** Idempotency entries kept per environment. Default 4 096 (the reference's cap). */
  ledgerCapacity?: number | undefined;
  /** Authorization hook evaluated before every mutation. Default: {@link authorizeLocalOwner}. */
  authorize?: Authorizer | undefined;
}

export { defaultStoreRoot };

/**
 * The commit journal (`<env>/.txn.json`). Side files (runtime, answers, runtime-config, the
 * ledger entry) are written before `environment.json`, whose atomic rename is the commit
 * point; the audit event is appended after it. The journal, written first, lists each side
 * file's previous version (a backup id, or null for "did not exist") and the audit event. The
 * next transaction (and `load`) compares it with the committed generation: still at
 * `base_generation` means the commit never happened, so the side files are rolled back; at
 * `generation` means it did, so a missing audit event is appended.
 */
interface Journal {
  schema: "greentic.store-journal.v1";
  base_generation: number | null;
  generation: number;
  files: { path: string; prior: string | null }[];
  event: AuditEventRecord;
}

interface CurrentEnv {
  environment: Environment;
  etag: string;
  generation: number;
  raw: Buffer;
}

/** A mutation's options checked before the lock is taken, and its idempotency fingerprint. */
interface PreparedMutation {
  noun: string;
  verb: string;
  actor: AuditActor;
  fingerprint: string;
}

function prepareMutation(options: TransactOptions): PreparedMutation {
  const noun = requireName(options?.noun, "noun");
  const verb = requireName(options?.verb, "verb");
  checkIdempotencyKey(options.idempotencyKey);
  return {
    noun,
    verb,
    actor: options.actor ?? localActor(),
    fingerprint: canonicalDigest({ noun, verb, request: options.request ?? null }),
  };
}

/** What {@link LocalFsStore.openMutation} found: the base to transform, or the recorded result. */
interface OpenedMutation<R> {
  base: CurrentEnv | undefined;
  now: string;
  event: AuditEventRecord;
  replayed?: TransactResult<R> | undefined;
}

interface CommitPlan {
  base: CurrentEnv | undefined;
  /** New `environment.json` document, or `undefined` when it does not change. */
  environment: Record<string, unknown> | undefined;
  generation: number;
  /** Side files: relative path → new content, or `null` to delete. */
  side: Map<string, unknown>;
  ledger?: LedgerEntry | undefined;
  event: AuditEventRecord;
}

const newUlid = monotonicFactory();

function integrity(message: string, path: string, hint: string, details?: Record<string, unknown>): GreenticError {
  return new GreenticError("integrity", message, { path, hint, details });
}

function packAnswersPath(slot: string): string {
  const reason = unsafeSegmentReason(slot);
  if (reason !== undefined) {
    throw new GreenticError("invalid-argument", `pack slot ${JSON.stringify(slot)} is not allowed: ${reason}`, {
      hint: "use a slot name such as `deployer`",
    });
  }
  return `env-packs/${slot}/answers.json`;
}

function checkPrecondition(
  envId: string,
  current: { etag: string; generation: number } | undefined,
  pre: Precondition | undefined,
): void {
  if (pre === undefined) return;
  const { if_match: ifMatch, expected_generation: expected } = pre;
  if (ifMatch === undefined && expected === undefined) return;
  if (current === undefined) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} does not exist, but the request pins ${ifMatch !== undefined ? `etag ${ifMatch}` : `generation ${expected}`}`,
      {
        hint: "drop the precondition to create it, or check the environment id",
      },
    );
  }
  if (ifMatch !== undefined && ifMatch.replace(/^"|"$/gu, "") !== current.etag) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} changed: expected etag ${ifMatch}, actual ${current.etag} (generation ${current.generation})`,
      {
        hint: "reload the environment and retry against the current state",
        details: { expected_etag: ifMatch, actual_etag: current.etag, actual_generation: current.generation },
      },
    );
  }
  if (expected !== undefined && expected !== current.generation) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} changed: expected generation ${expected}, actual ${current.generation}`,
      {
        hint: "reload the environment and retry against the current state",
        details: { expected_generation: expected, actual_generation: current.generation, actual_etag: current.etag },
      },
    );
  }
}

function requireName(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new GreenticError("invalid-argument", `${what} must be a non-empty string, got ${JSON.stringify(value)}`, {
      hint: `pass the audit ${what}, e.g. "traffic"`,
    });
  }
  return value;
}

/**
 * The local filesystem `EnvironmentStore`: `<root>/<env_id>/` laid out like the reference
 * (environment.json, runtime.json, runtime-config.json, env-packs/<slot>/answers.json,
 * audit/events.jsonl, backups/), plus `idempotency/` (the ledger), `data/<area>/` (local
 * handlers' artefacts) and `.txn.json` (the commit journal). Locks live in
 * `<root>/.locks/<env_id>.lock/`; destroyed environments move to `<root>/.destroyed/`.
 */
export class LocalFsStore implements EnvironmentStore {
  /** Absolute environments root. */
  readonly root: string;
  private readonly staleMs: number;
  private readonly timeoutMs: number;
  private readonly retention: number;
  private readonly ledgerCapacity: number;
  private readonly authorizer: Authorizer;
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: LocalFsStoreOptions = {}) {
    this.root = resolve(options.root ?? defaultStoreRoot());
    this.staleMs = Math.max(options.lockStaleMs ?? 10_000, 2_000);
    this.timeoutMs = options.lockTimeoutMs ?? 30_000;
    this.retention = options.backupRetention ?? 50;
    this.ledgerCapacity = options.ledgerCapacity ?? 4096;
    this.authorizer = options.authorize ?? authorizeLocalOwner;
    if (!Number.isInteger(this.retention) || this.retention < 1) {
      throw new GreenticError("invalid-argument", `backupRetention must be a positive integer, got ${this.retention}`, {
        hint: "the default is 50",
      });
    }
  }

  private envDir(envId: string): string {
    return join(this.root, envId);
  }

  private lockDir(envId: string): string {
    return join(this.root, LOCKS_DIR, `${envId}.lock`);
  }

  // ---- reads ------------------------------------------------------------------------------

  async list(): Promise<EnvironmentSummary[]> {
    let entries;
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return [];
      throw ioError("listing", this.root, error);
    }
    const out: EnvironmentSummary[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || unsafeSegmentReason(entry.name) !== undefined) continue;
      try {
        const current = await this.readEnv(entry.name, false);
        if (!current) continue;
        out.push({
          environment_id: entry.name,
          status: "ok",
          name: current.environment.name,
          generation: current.generation,
          etag: current.etag,
        });
      } catch (error) {
        if (!(error instanceof GreenticError) || error.kind !== "integrity") throw error;
        out.push({ environment_id: entry.name, status: "integrity", problem: error.message });
      }
    }
    return out.sort((a, b) => (a.environment_id < b.environment_id ? -1 : a.environment_id > b.environment_id ? 1 : 0));
  }

  async exists(envId: string): Promise<boolean> {
    assertSafeEnvId(envId);
    return (await readIfExists(join(this.envDir(envId), ENVIRONMENT_FILE))) !== undefined;
  }

  async load(envId: string): Promise<LoadedEnvironment> {
    assertSafeEnvId(envId);
    const current = await this.readEnv(envId, true);
    if (!current) throw this.notFound(envId);
    const runtime = await this.readRuntime(envId, current.generation);
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
    const current = await this.readEnv(envId, true);
    if (!current) throw this.notFound(envId);
    const raw = await this.readSide(envId, rel, current.generation);
    return raw === undefined ? undefined : this.parseJson(envId, rel, raw);
  }

  /** A directory (mode 0700) for local handlers' artefacts: staged bundles, process records, dev secrets. */
  async dataDir(envId: string, area: string): Promise<string> {
    assertSafeEnvId(envId);
    assertSafeEnvId(area, "data area");
    const dir = join(this.envDir(envId), DATA_DIR, area);
    await ensureDir(this.root, dir);
    return dir;
  }

  async lockInfo(envId: string): Promise<LockRecord | undefined> {
    assertSafeEnvId(envId);
    return readLockRecord(this.lockDir(envId));
  }

  async forceUnlock(envId: string, lockId: string): Promise<LockRecord> {
    assertSafeEnvId(envId);
    return forceRemoveLock(this.lockDir(envId), envId, lockId);
  }

  async listAudit(envId: string, query: AuditQuery = {}): Promise<AuditEventRecord[]> {
    assertSafeEnvId(envId);
    return listAuditEvents(join(this.envDir(envId), AUDIT_DIR), query);
  }

  async verifyAudit(envId: string): Promise<AuditVerification> {
    assertSafeEnvId(envId);
    return verifyAuditLog(join(this.envDir(envId), AUDIT_DIR));
  }

  async listBackups(envId: string): Promise<BackupInfo[]> {
    assertSafeEnvId(envId);
    const files = await listBackupFiles(this.envDir(envId));
    const out: BackupInfo[] = [];
    for (const file of files.reverse()) {
      const info: BackupInfo = {
        backup_id: file.backup_id,
        file: file.file,
        created_at: file.created_at,
        size_bytes: file.size_bytes,
        valid: true,
      };
      try {
        const checked = await this.checkBackup(envId, file.backup_id, file.file);
        if (checked.generation !== undefined) info.generation = checked.generation;
        if (checked.etag !== undefined) info.etag = checked.etag;
      } catch (error) {
        info.valid = false;
        info.problem = error instanceof Error ? error.message : String(error);
      }
      out.push(info);
    }
    return out;
  }

  // ---- verified reading -------------------------------------------------------------------

  private notFound(envId: string): GreenticError {
    return new GreenticError("not-found", `environment ${envId} does not exist in ${this.root}`, {
      hint: "list environments with `op env list`, or create it first",
    });
  }

  private parseJson(envId: string, rel: string, raw: Buffer): unknown {
    try {
      return JSON.parse(raw.toString("utf8"));
    } catch (error) {
      throw integrity(
        `${join(this.envDir(envId), rel)}: not valid JSON (${(error as Error).message})`,
        join(this.envDir(envId), rel),
        "restore a backup (see listBackups)",
      );
    }
  }

  /** Reads and verifies `environment.json`: JSON, schema, cross-references, id. */
  private async readEnv(envId: string, withBackupHint: boolean): Promise<CurrentEnv | undefined> {
    const file = join(this.envDir(envId), ENVIRONMENT_FILE);
    const raw = await readIfExists(file);
    if (raw === undefined) return undefined;
    let problem: string;
    let issues;
    let etag = sha256Hex(raw);
    let generation: number | undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw.toString("utf8"));
    } catch (error) {
      json = undefined;
      problem = `not valid JSON (${(error as Error).message})`;
    }
    if (json !== undefined) {
      etag = canonicalDigest(json);
      const g = (json as { generation?: unknown }).generation;
      if (typeof g === "number") generation = g;
      const parsed = parseEnvironment(json);
      if (parsed.ok && parsed.value.environment_id === envId) {
        return { environment: parsed.value, etag, generation: parsed.value.generation ?? 0, raw };
      }
      if (parsed.ok)
        problem = `environment_id is ${JSON.stringify(parsed.value.environment_id)} but the file is stored under ${JSON.stringify(envId)}`;
      else {
        problem = parsed.summary;
        issues = parsed.issues;
      }
    }
    const newest = withBackupHint ? await this.newestValidBackup(envId, ENVIRONMENT_FILE) : undefined;
    const err = integrity(
      `${file}: ${problem!}`,
      file,
      newest
        ? `restore the newest valid backup: restore(${JSON.stringify(envId)}, ${JSON.stringify(newest)}, {if_match: ${JSON.stringify(etag)}})`
        : "no valid backup exists; fix the file by hand",
      { file, etag, generation, newest_valid_backup: newest },
    );
    if (issues) Object.assign(err, { issues });
    throw err;
  }

  private async newestValidBackup(envId: string, rel: string): Promise<string | undefined> {
    const files = (await listBackupFiles(this.envDir(envId))).filter((f) => f.file === rel).reverse();
    for (const f of files) {
      try {
        await this.checkBackup(envId, f.backup_id, f.file);
        return f.backup_id;
      } catch {
        // try an older one
      }
    }
    return undefined;
  }

  /** Verifies a backup the way a load would; returns its generation and etag for env backups. */
  private async checkBackup(
    envId: string,
    backupId: string,
    rel: string,
  ): Promise<{ content: unknown; generation?: number; etag?: string }> {
    const file = join(this.envDir(envId), BACKUPS_DIR, backupId);
    const raw = await readIfExists(file);
    if (raw === undefined)
      throw new GreenticError("not-found", `backup ${backupId} of environment ${envId} does not exist`, {
        hint: "list backups with listBackups",
      });
    let json: unknown;
    try {
      json = JSON.parse(raw.toString("utf8"));
    } catch (error) {
      throw integrity(`backup ${backupId}: not valid JSON (${(error as Error).message})`, file, "pick another backup");
    }
    if (rel === ENVIRONMENT_FILE) {
      const parsed = parseEnvironment(json, { source: `backup ${backupId}` });
      if (!parsed.ok) throw integrity(parsed.summary, file, "pick another backup");
      if (parsed.value.environment_id !== envId)
        throw integrity(
          `backup ${backupId} belongs to environment ${parsed.value.environment_id}`,
          file,
          "pick another backup",
        );
      return { content: json, generation: parsed.value.generation ?? 0, etag: canonicalDigest(json) };
    }
    if (rel === RUNTIME_FILE) {
      const parsed = parseDocument(EnvironmentRuntimeSchema, json, { source: `backup ${backupId}` });
      if (!parsed.ok) throw integrity(parsed.summary, file, "pick another backup");
    }
    return { content: json };
  }

  /**
   * A side file as of the committed generation: if a journal shows a transaction that has not
   * committed yet (or crashed), its previous version is read instead of the staged one.
   */
  private async readSide(envId: string, rel: string, committedGeneration: number | null): Promise<Buffer | undefined> {
    const dir = this.envDir(envId);
    const journal = await this.readJournal(envId);
    if (journal && journal.base_generation === committedGeneration && journal.generation !== committedGeneration) {
      const entry = journal.files.find((f) => f.path === rel);
      if (entry) return entry.prior === null ? undefined : readIfExists(join(dir, BACKUPS_DIR, entry.prior));
    }
    return readIfExists(join(dir, rel));
  }

  private async readRuntime(envId: string, generation: number): Promise<EnvironmentRuntime | undefined> {
    const raw = await this.readSide(envId, RUNTIME_FILE, generation);
    if (raw === undefined) return undefined;
    const json = this.parseJson(envId, RUNTIME_FILE, raw);
    const file = join(this.envDir(envId), RUNTIME_FILE);
    const parsed = parseDocument(EnvironmentRuntimeSchema, json, { source: file });
    if (!parsed.ok) throw integrity(parsed.summary, file, "restore a backup of runtime.json (see listBackups)");
    if (parsed.value.environment_id !== envId)
      throw integrity(
        `${file}: environment_id is ${JSON.stringify(parsed.value.environment_id)}, expected ${JSON.stringify(envId)}`,
        file,
        "restore a backup of runtime.json",
      );
    return parsed.value;
  }

  private async readJournal(envId: string): Promise<Journal | undefined> {
    const raw = await readIfExists(join(this.envDir(envId), JOURNAL_FILE));
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw.toString("utf8")) as Journal;
    } catch (error) {
      throw integrity(
        `${join(this.envDir(envId), JOURNAL_FILE)}: not valid JSON (${(error as Error).message})`,
        join(this.envDir(envId), JOURNAL_FILE),
        "the journal is written atomically; inspect the file system",
      );
    }
  }

  /** Raw committed generation (null when there is no environment.json), without validation. */
  private async rawGeneration(envId: string): Promise<number | null> {
    const raw = await readIfExists(join(this.envDir(envId), ENVIRONMENT_FILE));
    if (raw === undefined) return null;
    try {
      const g = (JSON.parse(raw.toString("utf8")) as { generation?: unknown }).generation;
      return typeof g === "number" ? g : 0;
    } catch {
      return -1; // what restore pins for an unparseable file
    }
  }

  // ---- locking and recovery ---------------------------------------------------------------

  /** Serialises work on one environment: an in-process queue, then the cross-process lock. */
  private async withLock<T>(envId: string, operation: string, body: (lock: HeldLock) => Promise<T>): Promise<T> {
    const previous = this.queues.get(envId) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => {
      done = r;
    });
    const tail = previous.then(() => mine);
    this.queues.set(envId, tail);
    await previous;
    try {
      const lock = await acquireLock(this.root, this.lockDir(envId), envId, operation, {
        staleMs: this.staleMs,
        timeoutMs: this.timeoutMs,
      });
      try {
        return await body(lock);
      } finally {
        await lock.release();
      }
    } finally {
      done();
      if (this.queues.get(envId) === tail) this.queues.delete(envId);
    }
  }

  /** Finishes or undoes a transaction interrupted by a crash (see {@link Journal}). */
  private async recover(envId: string, lock: HeldLock): Promise<void> {
    const journal = await this.readJournal(envId);
    if (!journal) return;
    const dir = this.envDir(envId);
    const committed = await this.rawGeneration(envId);
    await lock.assertOwned(envId);
    if (committed === journal.generation && !(journal.base_generation === null && committed === null)) {
      const auditDir = join(dir, AUDIT_DIR);
      if ((await lastAuditEvent(auditDir))?.event_id !== journal.event.event_id) {
        try {
          await appendAuditEvent(this.root, auditDir, journal.event);
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
        if (file.prior === null) await removeDurable(this.root, target);
        else {
          const prior = await readIfExists(join(dir, BACKUPS_DIR, file.prior));
          if (prior === undefined)
            throw integrity(
              `journal of environment ${envId} needs backup ${file.prior}, which is missing`,
              target,
              "restore the file by hand from backups/",
            );
          await writeAtomic(this.root, target, prior);
        }
      }
    } else {
      throw integrity(
        `${join(dir, JOURNAL_FILE)} is for generation ${journal.base_generation} -> ${journal.generation}, but environment.json is at ${String(committed)}`,
        join(dir, JOURNAL_FILE),
        "restore environment.json from a backup; the journal is removed by the next successful transaction",
      );
    }
    await removeDurable(this.root, join(dir, JOURNAL_FILE));
  }

  // ---- mutations --------------------------------------------------------------------------

  private async decide(
    actor: AuditActor,
    envId: string,
    noun: string,
    verb: string,
    target: unknown,
  ): Promise<AuditDecision> {
    try {
      return await this.authorizer({ actor, env_id: envId, noun, verb, target });
    } catch (error) {
      throw new GreenticError(
        "internal",
        `authorization hook failed for ${noun} ${verb} on ${envId}: ${(error as Error).message}`,
        { cause: error, hint: "fix the authorization policy" },
      );
    }
  }

  private event(
    envId: string,
    actor: AuditActor,
    noun: string,
    verb: string,
    target: unknown,
    decision: AuditDecision,
    now: string,
  ): AuditEventRecord {
    return {
      schema: "greentic.audit.event.v1",
      event_id: newUlid(),
      ts: now,
      actor,
      env_id: envId,
      noun,
      verb,
      target: (target ?? null) as AuditEventRecord["target"],
      authorization: decision,
      result: { outcome: "ok" },
    };
  }

  /** Records a denied attempt and returns the `unauthorized` error to throw. */
  private async deny(envId: string, event: AuditEventRecord): Promise<GreenticError> {
    const { policy, reason } = event.authorization;
    const error = new GreenticError(
      "unauthorized",
      `${event.noun} ${event.verb} on environment ${envId} denied by policy ${policy}: ${reason}`,
      {
        hint: "ask an operator with access to this environment",
        details: { policy, reason },
      },
    );
    event.result = { outcome: "error", kind: "unauthorized", message: error.message };
    await appendAuditEvent(this.root, join(this.envDir(envId), AUDIT_DIR), event);
    return error;
  }

  /**
   * The checks every mutation starts with, in this order, under the held lock: crash recovery,
   * existence, authorization (a denial is audited), the idempotency ledger (same key and
   * request: the recorded result; another request: `idempotency-conflict`), then the caller's
   * precondition. The ledger goes before the precondition because a retry of a committed
   * request pins the state it saw before its own commit. Shared by `transact` and
   * `checkMutation`, so that a pre-check and the authoritative check cannot drift apart.
   */
  private async openMutation<R>(
    envId: string,
    lock: HeldLock,
    options: TransactOptions,
    prepared: PreparedMutation,
  ): Promise<OpenedMutation<R>> {
    const { noun, verb, actor, fingerprint } = prepared;
    await this.recover(envId, lock);
    const base = await this.readEnv(envId, true);
    if (!base && !options.create) throw this.notFound(envId);
    const now = new Date().toISOString();
    const decision = await this.decide(actor, envId, noun, verb, options.target ?? null);
    const event = this.event(envId, actor, noun, verb, options.target ?? null, decision, now);
    if (options.idempotencyKey !== undefined) event.idempotency_key = options.idempotencyKey;
    if (decision.decision !== "allow") throw await this.deny(envId, event);

    if (options.idempotencyKey !== undefined) {
      const entry = await findLedgerEntry(join(this.envDir(envId), LEDGER_DIR), options.idempotencyKey);
      if (entry) return { base, now, event, replayed: replay<R>(envId, entry, fingerprint) };
    }
    checkPrecondition(envId, base, options.precondition);
    return { base, now, event };
  }

  async checkMutation<R = unknown>(envId: string, options: TransactOptions): Promise<MutationCheck<R>> {
    assertSafeEnvId(envId);
    const prepared = prepareMutation(options);
    return this.withLock(envId, `${prepared.noun} ${prepared.verb} (check)`, async (lock) => {
      const opened = await this.openMutation<R>(envId, lock, options, prepared);
      if (opened.replayed) return { status: "replay", replayed: opened.replayed };
      return { status: "proceed", etag: opened.base?.etag, generation: opened.base?.generation };
    });
  }

  async transact<R>(envId: string, fn: Transform<R>, options: TransactOptions): Promise<TransactResult<R>> {
    assertSafeEnvId(envId);
    const prepared = prepareMutation(options);
    const { noun, verb, fingerprint } = prepared;
    return this.withLock(envId, `${noun} ${verb}`, async (lock) => {
      const { base, now, event, replayed } = await this.openMutation<R>(envId, lock, options, prepared);
      if (replayed) return replayed;

      const side = new Map<string, unknown>();
      const readStaged = async (rel: string): Promise<unknown> => {
        if (side.has(rel)) return side.get(rel) ?? undefined;
        const raw = await readIfExists(join(this.envDir(envId), rel));
        return raw === undefined ? undefined : this.parseJson(envId, rel, raw);
      };
      const ctx: TransactContext = {
        now,
        newId: () => newUlid(),
        runtime: async () =>
          side.has(RUNTIME_FILE)
            ? ((side.get(RUNTIME_FILE) ?? undefined) as EnvironmentRuntime | undefined)
            : base
              ? this.readRuntime(envId, base.generation)
              : undefined,
        setRuntime: (runtime) => {
          if (runtime !== null) {
            const parsed = parseDocument(EnvironmentRuntimeSchema, runtime, { source: RUNTIME_FILE });
            if (!parsed.ok) throw issuesError(parsed.issues, { source: RUNTIME_FILE });
            if (parsed.value.environment_id !== envId)
              throw new GreenticError(
                "validation",
                `${RUNTIME_FILE}: environment_id ${parsed.value.environment_id} is not ${envId}`,
                { path: "environment_id" },
              );
          }
          side.set(RUNTIME_FILE, runtime);
        },
        packAnswers: (slot) => readStaged(packAnswersPath(slot)),
        setPackAnswers: (slot, answers) => {
          side.set(packAnswersPath(slot), answers === undefined ? null : answers);
        },
      };
      const outcome = await fn(base ? structuredClone(base.environment) : undefined, ctx);

      const checked = parseEnvironment(outcome.environment, { source: `environment ${envId}` });
      if (!checked.ok) throw issuesError(checked.issues, { source: `environment ${envId}` });
      if (checked.value.environment_id !== envId) {
        throw new GreenticError(
          "validation",
          `environment_id ${JSON.stringify(checked.value.environment_id)} does not match the environment being written, ${JSON.stringify(envId)}`,
          {
            path: "environment_id",
            hint: "a transform must keep the environment id",
          },
        );
      }
      const { generation: _ignored, ...content } = checked.value;
      const baseContent = base ? canonicalJson({ ...base.environment, generation: undefined }) : undefined;
      const changed = baseContent !== canonicalJson(content);
      this.stageRuntimeConfig(checked.value, side);
      const sideChanged = await this.dropUnchanged(envId, side);
      const mutated = changed || sideChanged || !base;
      const generation = mutated ? (base?.generation ?? 0) + 1 : base!.generation;
      const document = mutated ? { ...content, generation } : undefined;

      if (outcome.target !== undefined) event.target = outcome.target as AuditEventRecord["target"];
      if (mutated) {
        if (base) event.previous_generation = base.generation;
        event.new_generation = generation;
      }
      if (outcome.error) event.result = { outcome: "error", kind: outcome.error.kind, message: outcome.error.message };

      const etag = document ? canonicalDigest(JSON.parse(prettyJson(document))) : base!.etag;
      const response = { result: outcome.result, etag, generation, audit: event };
      const ledger: LedgerEntry | undefined =
        options.idempotencyKey === undefined
          ? undefined
          : {
              schema: "greentic.idempotency-entry.v1",
              key: options.idempotencyKey,
              fingerprint,
              noun,
              verb,
              generation,
              recorded_at: now,
              response,
              error: outcome.error?.toJSON(),
            };
      const audit = await this.commit(envId, lock, { base, environment: document, generation, side, ledger, event });
      if (outcome.error) throw outcome.error;
      return { result: outcome.result, etag, generation, idempotency: "applied", audit };
    });
  }

  /** Stages runtime-config.json: the projection of the traffic splits, removed when there is none. */
  private stageRuntimeConfig(env: Environment, side: Map<string, unknown>): void {
    side.set(RUNTIME_CONFIG_FILE, projectRuntimeConfig(env));
  }

  /** Drops staged side writes equal to what is on disk; true if any real change remains. */
  private async dropUnchanged(envId: string, side: Map<string, unknown>): Promise<boolean> {
    for (const [rel, value] of side) {
      const raw = await readIfExists(join(this.envDir(envId), rel));
      let same: boolean;
      if (raw === undefined) same = value === null;
      else if (value === null) same = false;
      else {
        try {
          same = canonicalJson(JSON.parse(raw.toString("utf8"))) === canonicalJson(value);
        } catch {
          same = false;
        }
      }
      if (same) side.delete(rel);
    }
    return side.size > 0;
  }

  /**
   * Writes a planned change: backups, journal, side files, ledger entry, environment.json (the
   * commit point), audit event, then removes the journal. Returns the audit event as written.
   */
  private async commit(envId: string, lock: HeldLock, plan: CommitPlan): Promise<AuditEventRecord> {
    const dir = this.envDir(envId);
    await ensureDir(this.root, dir);
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
      files.push({ path: rel, prior: current === undefined ? null : await writeBackup(this.root, dir, rel, current) });
    }
    const envBackup =
      plan.environment && plan.base ? await writeBackup(this.root, dir, ENVIRONMENT_FILE, plan.base.raw) : undefined;
    const journal: Journal = {
      schema: "greentic.store-journal.v1",
      base_generation: plan.base ? plan.base.generation : null,
      generation: plan.generation,
      files,
      event: plan.event,
    };
    await lock.assertOwned(envId);
    await writeAtomic(this.root, join(dir, JOURNAL_FILE), prettyJson(journal));
    for (const [rel, content] of writes) {
      if (content === null) await removeDurable(this.root, join(dir, rel));
      else await writeAtomic(this.root, join(dir, rel), content);
    }
    if (plan.environment) {
      const bytes = Buffer.from(prettyJson(plan.environment));
      await lock.assertOwned(envId);
      // Before the commit point: until environment.json holds these bytes the record matches nothing.
      await this.writeVerified(envId, bytes);
      await writeAtomic(this.root, join(dir, ENVIRONMENT_FILE), bytes);
    }
    let written: AuditEventRecord;
    try {
      written = await appendAuditEvent(this.root, join(dir, AUDIT_DIR), plan.event);
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
    await removeDurable(this.root, join(dir, JOURNAL_FILE));
    // Housekeeping after the commit: failures here never undo or fail a committed change.
    const touched = [
      ...files.filter((f) => f.prior !== null).map((f) => f.path),
      ...(envBackup ? [ENVIRONMENT_FILE] : []),
    ];
    for (const rel of touched) await pruneBackups(dir, rel, this.retention);
    if (plan.ledger) await evictLedger(join(dir, LEDGER_DIR), this.ledgerCapacity);
    return written;
  }

  /**
   * Writes `.verified.json` for the files this commit leaves (see `VerifiedRecord`), or
   * removes it when one of them would not load exactly as written: then no record vouches and
   * fast readers take the validating path.
   */
  private async writeVerified(envId: string, envBytes: Buffer): Promise<void> {
    const file = join(this.envDir(envId), VERIFIED_FILE);
    const record = await this.verifiedRecord(envId, envBytes).catch(() => undefined);
    if (record === undefined) await removeDurable(this.root, file);
    else await writeAtomic(this.root, file, prettyJson(record));
  }

  private async verifiedRecord(envId: string, envBytes: Buffer): Promise<VerifiedRecord | undefined> {
    const dir = this.envDir(envId);
    // A fast reader returns JSON.parse of the bytes, so they must parse to what a load returns.
    const loadsAsWritten = (parsed: { ok: boolean; value?: unknown }, json: unknown) =>
      parsed.ok && JSON.stringify(parsed.value) === JSON.stringify(json);
    const json = JSON.parse(envBytes.toString("utf8")) as { environment_id?: unknown; generation?: unknown };
    const env = parseEnvironment(json);
    if (!env.ok || env.value.environment_id !== envId || !loadsAsWritten(env, json)) return undefined;
    const runtimeRaw = await readIfExists(join(dir, RUNTIME_FILE));
    if (runtimeRaw !== undefined) {
      const runtime = JSON.parse(runtimeRaw.toString("utf8")) as unknown;
      const parsed = parseDocument(EnvironmentRuntimeSchema, runtime, { source: RUNTIME_FILE });
      if (!parsed.ok || parsed.value.environment_id !== envId || !loadsAsWritten(parsed, runtime)) return undefined;
    }
    // `op env show` reads the deployer's answers for the router; a load only needs them to parse.
    const answersRaw = await readIfExists(join(dir, DEPLOYER_ANSWERS_FILE));
    if (answersRaw !== undefined) JSON.parse(answersRaw.toString("utf8"));
    return {
      schema: "greentic.store-verified.v1",
      generation: env.value.generation ?? 0,
      etag: canonicalDigest(json),
      files: {
        [ENVIRONMENT_FILE]: sha256Hex(envBytes),
        [RUNTIME_FILE]: runtimeRaw === undefined ? null : sha256Hex(runtimeRaw),
        [DEPLOYER_ANSWERS_FILE]: answersRaw === undefined ? null : sha256Hex(answersRaw),
      },
    };
  }

  // ---- restore and destroy ----------------------------------------------------------------

  async restore(
    envId: string,
    backupId: string,
    precondition: Precondition,
    options: { actor?: AuditActor | undefined } = {},
  ): Promise<TransactResult<{ restored: string; file: string }>> {
    assertSafeEnvId(envId);
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
    const actor = options.actor ?? localActor();
    return this.withLock(envId, "env restore", async (lock) => {
      await this.recover(envId, lock);
      // The current file may be the corrupt one being repaired: pin it by its raw state.
      let base: CurrentEnv | undefined;
      let pinned: { etag: string; generation: number } | undefined;
      try {
        base = await this.readEnv(envId, false);
        pinned = base;
      } catch (error) {
        if (!(error instanceof GreenticError) || error.kind !== "integrity") throw error;
        const details = error.details as { etag: string; generation?: number };
        pinned = { etag: details.etag, generation: details.generation ?? -1 };
      }
      const now = new Date().toISOString();
      const target = { backup_id: backupId, file: rel };
      const decision = await this.decide(actor, envId, "env", "restore", target);
      const event = this.event(envId, actor, "env", "restore", target, decision, now);
      if (decision.decision !== "allow") throw await this.deny(envId, event);
      if (!pinned) throw this.notFound(envId);
      checkPrecondition(envId, pinned, precondition);
      const checked = await this.checkBackup(envId, backupId, rel);
      const side = new Map<string, unknown>();
      let environment: Record<string, unknown>;
      let generation: number;
      const raw = await readIfExists(join(this.envDir(envId), ENVIRONMENT_FILE));
      const previous = base?.generation ?? (pinned.generation >= 0 ? pinned.generation : undefined);
      if (rel === ENVIRONMENT_FILE) {
        const backups = await this.listBackups(envId);
        // An unparseable file's generation is unknown: go above every generation on record.
        const lastAudited = (await lastAuditEvent(join(this.envDir(envId), AUDIT_DIR)))?.new_generation ?? 0;
        const highest = Math.max(previous ?? 0, lastAudited, ...backups.map((b) => b.generation ?? 0));
        generation = (previous ?? highest) + 1;
        environment = { ...(checked.content as Record<string, unknown>), generation };
        const parsedEnv = parseEnvironment(environment);
        if (parsedEnv.ok) this.stageRuntimeConfig(parsedEnv.value, side);
      } else {
        if (!base) throw this.notFound(envId);
        generation = base.generation + 1;
        environment = { ...base.environment, generation };
        side.set(rel, checked.content);
      }
      await this.dropUnchanged(envId, side);
      if (previous !== undefined) event.previous_generation = previous;
      event.new_generation = generation;
      const baseForCommit: CurrentEnv | undefined =
        raw === undefined
          ? undefined
          : { environment: base?.environment as Environment, etag: pinned.etag, generation: previous ?? -1, raw };
      const audit = await this.commit(envId, lock, { base: baseForCommit, environment, generation, side, event });
      const etag = canonicalDigest(JSON.parse(prettyJson(environment)));
      return { result: { restored: backupId, file: rel }, etag, generation, idempotency: "applied", audit };
    });
  }

  async destroy(
    envId: string,
    options: { actor?: AuditActor | undefined; precondition?: Precondition | undefined } = {},
  ): Promise<{ audit: AuditEventRecord }> {
    assertSafeEnvId(envId);
    const actor = options.actor ?? localActor();
    return this.withLock(envId, "env destroy", async (lock) => {
      await this.recover(envId, lock);
      let pinned: { etag: string; generation: number } | undefined;
      try {
        pinned = await this.readEnv(envId, false);
      } catch (error) {
        if (!(error instanceof GreenticError) || error.kind !== "integrity") throw error;
        const details = error.details as { etag: string; generation?: number };
        pinned = { etag: details.etag, generation: details.generation ?? -1 };
      }
      if (!pinned) throw this.notFound(envId);
      const now = new Date().toISOString();
      const target = { environment_id: envId };
      const decision = await this.decide(actor, envId, "env", "destroy", target);
      const event = this.event(envId, actor, "env", "destroy", target, decision, now);
      if (decision.decision !== "allow") throw await this.deny(envId, event);
      checkPrecondition(envId, pinned, options.precondition);
      if (pinned.generation >= 0) event.previous_generation = pinned.generation;
      // The whole directory (audit log included) moves aside in one rename: history survives.
      const graveyard = join(this.root, DESTROYED_DIR);
      await mkdir(graveyard, { recursive: true, mode: 0o700 });
      const moved = join(graveyard, `${envId}-${now.replace(/[-:.]/gu, "")}-${event.event_id}`);
      await lock.assertOwned(envId);
      try {
        await rename(this.envDir(envId), moved);
        await fsyncDir(this.root);
        await fsyncDir(graveyard);
      } catch (error) {
        throw ioError("moving", this.envDir(envId), error);
      }
      try {
        return { audit: await appendAuditEvent(this.root, join(moved, AUDIT_DIR), event) };
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
    });
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
    return this.withLock(envId, "migrate rename", async (lock) => {
      await lock.assertOwned(envId);
      const from = this.envDir(envId);
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
    await this.withLock(envId, `${noun} ${verb}`, async (lock) => {
      await this.recover(envId, lock);
      const event = this.event(
        envId,
        actor,
        noun,
        verb,
        target,
        await this.decide(actor, envId, noun, verb, target),
        new Date().toISOString(),
      );
      if (event.authorization.decision !== "allow") throw await this.deny(envId, event);
      await body();
      await appendAuditEvent(this.root, join(this.envDir(envId), AUDIT_DIR), event).catch((error: unknown) => {
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

function replay<R>(envId: string, entry: LedgerEntry, fingerprint: string): TransactResult<R> {
  if (entry.fingerprint !== fingerprint) {
    throw new GreenticError(
      "idempotency-conflict",
      `idempotency key ${JSON.stringify(entry.key)} was already used on environment ${envId} for a different request (${entry.noun} ${entry.verb} at generation ${entry.generation})`,
      {
        hint: "use a new key for a new request; reuse a key only to retry the identical request",
        details: { key: entry.key, original: { noun: entry.noun, verb: entry.verb } },
      },
    );
  }
  if (entry.error) throw replayedError(entry.error);
  return { ...(entry.response as TransactResult<R>), idempotency: "replayed" };
}
