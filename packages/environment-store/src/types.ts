import type {
  AuditActor,
  AuditDecision,
  AuditEvent,
  Environment,
  EnvironmentRuntime,
  GreenticError,
} from "@greentic/deploy-spec";
import type { LockRecord } from "./lock.js";

/** One line of `audit/events.jsonl` (`greentic.audit.event.v1`, with our `prev_hash`). */
export type AuditEventRecord = AuditEvent;

/** Compare-and-swap pin. Either or both may be given; every given pin must match. */
export interface Precondition {
  /** ETag (canonical SHA-256 of the stored document) the caller last saw. */
  if_match?: string | undefined;
  /** Generation the caller last saw. */
  expected_generation?: number | undefined;
}

/** What the authorization hook is asked before every mutation. */
export interface AuthorizationRequest {
  actor: AuditActor;
  env_id: string;
  noun: string;
  verb: string;
  target: unknown;
}

/** Decides whether a mutation may run; the decision is recorded in the audit event. */
export type Authorizer = (request: AuthorizationRequest) => AuditDecision | Promise<AuditDecision>;

/** Reads and staged writes of the side documents, available to a transform. */
export interface TransactContext {
  /** RFC 3339 UTC time of this transaction. */
  now: string;
  /** A fresh ULID. */
  newId: () => string;
  /** `runtime.json` as of this transaction (staged writes included). */
  runtime(): Promise<EnvironmentRuntime | undefined>;
  /** Stages a new `runtime.json`, or its removal with `null`. */
  setRuntime(runtime: EnvironmentRuntime | null): void;
  /** `env-packs/<slot>/answers.json` as of this transaction (staged writes included). */
  packAnswers(slot: string): Promise<unknown>;
  /** Stages new pack answers for `slot`, or their removal with `null`. */
  setPackAnswers(slot: string, answers: unknown): void;
}

/** What a transform returns. With `error`, the change commits and then `error` is thrown. */
export interface TransformOutcome<R> {
  environment: Environment;
  result: R;
  /** Audit target; overrides `TransactOptions.target`. */
  target?: unknown;
  error?: GreenticError | undefined;
}

/**
 * A pure change to one environment. It receives the current document (`undefined` when the
 * environment does not exist and `create` was set). Throwing aborts with nothing written.
 */
export type Transform<R> = (
  current: Environment | undefined,
  ctx: TransactContext,
) => TransformOutcome<R> | Promise<TransformOutcome<R>>;

export interface TransactOptions {
  /** Audit noun, e.g. `traffic`. */
  noun: string;
  /** Audit verb, e.g. `set`. */
  verb: string;
  /** Defaults to the local OS user. */
  actor?: AuditActor | undefined;
  precondition?: Precondition | undefined;
  /** Retry key: the same key and request replay the first result. At most 255 bytes. */
  idempotencyKey?: string | undefined;
  /** The request payload, fingerprinted with noun and verb for idempotency. */
  request?: unknown;
  /** Allow the environment not to exist yet (the transform then receives `undefined`). */
  create?: boolean | undefined;
  /** Audit target when the transform does not return one. */
  target?: unknown;
  /**
   * A transform that changes nothing commits nothing: no audit event, no ledger entry (a retry
   * runs the transform again and finds nothing to do again). Default false: a no-op is audited.
   */
  quietNoop?: boolean | undefined;
}

export interface TransactResult<R> {
  result: R;
  etag: string;
  generation: number;
  idempotency: "applied" | "replayed";
  audit: AuditEventRecord;
}

/**
 * What {@link EnvironmentStore.checkMutation} found: the mutation may proceed (the current
 * etag and generation, undefined when the environment does not exist yet and `create` was
 * set), or its idempotency key already answered (`replayed`, what `transact` would return).
 */
export type MutationCheck<R = unknown> =
  | { status: "proceed"; etag: string | undefined; generation: number | undefined }
  | { status: "replay"; replayed: TransactResult<R> };

export interface LoadedEnvironment {
  environment: Environment;
  etag: string;
  generation: number;
  runtime?: EnvironmentRuntime | undefined;
}

/** One row of `list()`. Corrupt environments are listed with status `integrity` and the problem. */
export interface EnvironmentSummary {
  environment_id: string;
  status: "ok" | "integrity";
  name?: string | undefined;
  generation?: number | undefined;
  etag?: string | undefined;
  problem?: string | undefined;
}

/** One backup of a stored file. `backup_id` is what `restore` takes. */
export interface BackupInfo {
  backup_id: string;
  /** The store file it is a backup of, e.g. `environment.json` or `env-packs/deployer/answers.json`. */
  file: string;
  created_at: string;
  size_bytes: number;
  /** For `environment.json` backups that parse: their generation and etag. */
  generation?: number | undefined;
  etag?: string | undefined;
  /** Whether the backup passes the same checks as a load. */
  valid: boolean;
  problem?: string | undefined;
}

export interface AuditQuery {
  noun?: string | undefined;
  verb?: string | undefined;
  /** Only events at or after this time. */
  since?: string | Date | undefined;
  /** Matches `actor.user`. */
  actor?: string | undefined;
  /** Return only the newest `limit` matches. */
  limit?: number | undefined;
}

/**
 * `unchained` lists (1-based) the lines without `prev_hash` that follow chained ones: events a
 * writer without the hash chain (the reference) appended. Their content cannot be verified, but
 * the chain is checked across them (the next chained line must hash the unchained one), so they
 * cannot have been inserted between chained lines. Absent when there are none.
 */
export type AuditVerification =
  | { ok: true; lines: number; unchained?: number[] }
  | { ok: false; lines: number; line: number; reason: string };

export interface MigrationFinding {
  kind: string;
  severity: "info" | "blocking";
  location: string;
  message: string;
}

export interface MigrateDevCheck {
  from_env: "dev";
  to_env: string;
  clean: boolean;
  findings: MigrationFinding[];
}

export interface MigrateDevApplied {
  from_env: "dev";
  to_env: string;
  merged_slots: string[];
  merged_extensions: string[];
  legacy_dir_renamed_to?: string | undefined;
}

export interface MigrateStateCheck {
  env_id: string;
  state_dir: string;
  clean: boolean;
  leaf_count: number;
  findings: MigrationFinding[];
}

export interface MigrateStateApplied {
  env_id: string;
  state_dir: string;
  legacy_dir_renamed_to?: string | undefined;
  scanned_paths_count: number;
}

/**
 * Everything a store holds of one environment, as `op store copy` moves it between stores:
 * the document (with its generation and etag), its side documents, the audit log's exact
 * lines (so that the hash chain carries over) and the backups' exact contents.
 */
export interface EnvironmentSnapshot {
  environment_id: string;
  generation: number;
  etag: string;
  /** The document as stored (pretty JSON). */
  document: string;
  /** Side documents by store path (`runtime.json`, `env-packs/<slot>/answers.json`). */
  side: Record<string, unknown>;
  /** Audit events, oldest first, each the exact JSON text of its line. */
  audit_lines: string[];
  backups: { backup_id: string; file: string; content: string }[];
}

/**
 * The store every other package uses. Async and path-free, so a shared-database backend can
 * implement it later without changing callers.
 */
export interface EnvironmentStore {
  /** All environments, sorted by id. */
  list(): Promise<EnvironmentSummary[]>;
  exists(envId: string): Promise<boolean>;
  /** Loads and verifies (parse, schema, cross-references); `integrity` on a corrupt file. */
  load(envId: string): Promise<LoadedEnvironment>;
  loadRuntime(envId: string): Promise<EnvironmentRuntime | undefined>;
  loadPackAnswers(envId: string, slot: string): Promise<unknown>;
  /** Runs `fn` under the environment's lock and commits what it returns (see TransactOptions). */
  transact<R>(envId: string, fn: Transform<R>, options: TransactOptions): Promise<TransactResult<R>>;
  /**
   * The checks `transact` runs before its transform (existence, authorization, idempotency
   * key, precondition), with the same options and the same errors, and nothing committed.
   * Callers with a side effect outside the store (copying a bundle, starting a process) call
   * it first, so that a stale pin or a reused key refuses before the side effect, and a
   * replay returns the recorded result without redoing it. It is advisory: `transact` checks
   * again, and a writer that got in between is still refused there.
   */
  checkMutation<R = unknown>(envId: string, options: TransactOptions): Promise<MutationCheck<R>>;
  /** Removes an environment (audited); its history is kept aside, never deleted. */
  destroy(
    envId: string,
    options?: { actor?: AuditActor | undefined; precondition?: Precondition | undefined },
  ): Promise<{ audit: AuditEventRecord }>;
  listBackups(envId: string): Promise<BackupInfo[]>;
  /** Brings a backup back as a new generation; the precondition must pin the current state. */
  restore(
    envId: string,
    backupId: string,
    precondition: Precondition,
    options?: { actor?: AuditActor | undefined },
  ): Promise<TransactResult<{ restored: string; file: string }>>;
  listAudit(envId: string, query?: AuditQuery): Promise<AuditEventRecord[]>;
  verifyAudit(envId: string): Promise<AuditVerification>;
}

/**
 * What the local filesystem store offers beyond {@link EnvironmentStore}: local handlers' data
 * directories, the lock directory's administration and the migrations of local legacy trees.
 * A shared-database backend has none of these (its locks are released with the connection).
 */
export interface LocalStoreAdministration {
  /**
   * A directory (mode 0700) on this machine for local handlers' artefacts of `area`, created
   * unless `create` is false (readers: the path only, which may not exist; nothing is written).
   */
  dataDir(envId: string, area: string, options?: { create?: boolean }): Promise<string>;
  /**
   * The committed `runtime-config.json` of the environment (the traffic the operator asked
   * for, in the runtime's wire format): a local deployer's supervisor converges to it.
   */
  runtimeConfigFile(envId: string): string;
  /** Who holds the environment's lock, if anyone. */
  lockInfo(envId: string): Promise<LockRecord | undefined>;
  /** Removes a lock whose holder is gone; refuses a holder alive on this host. */
  forceUnlock(envId: string, lockId: string): Promise<LockRecord>;
  migrateDev(target: string, options: { mode: "check"; actor?: AuditActor }): Promise<MigrateDevCheck>;
  migrateDev(target: string, options: { mode: "apply"; actor?: AuditActor }): Promise<MigrateDevApplied>;
  migrateState(envId: string, options: { mode: "check"; stateDir?: string }): Promise<MigrateStateCheck>;
  migrateState(
    envId: string,
    options: { mode: "apply"; stateDir?: string; actor?: AuditActor },
  ): Promise<MigrateStateApplied>;
}
