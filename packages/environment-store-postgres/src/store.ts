import { mkdir } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import {
  EnvironmentRuntimeSchema,
  GreenticError,
  canonicalDigest,
  canonicalJson,
  parseDocument,
  parseEnvironment,
  prettyJson,
  sha256Hex,
  type AuditActor,
  type Environment,
  type EnvironmentRuntime,
} from "@greentic/deploy-spec";
import type {
  AuditEventRecord,
  AuditQuery,
  AuditVerification,
  Authorizer,
  BackupInfo,
  EnvironmentSnapshot,
  EnvironmentStore,
  EnvironmentSummary,
  LoadedEnvironment,
  LockRecord,
  MutationCheck,
  Precondition,
  TransactOptions,
  TransactResult,
  Transform,
} from "@greentic/environment-store";
import {
  ENVIRONMENT_FILE,
  RUNTIME_FILE,
  assertSafeEnvId,
  authorizeLocalOwner,
  backupTimestamp,
  checkPrecondition,
  decide,
  ledgerEntryProblem,
  newEvent,
  newUlid,
  packAnswersPath,
  parseBackupId,
  planChange,
  prepareMutation,
  replayLedgerEntry,
  stageRuntimeConfig,
  verifyAuditChain,
  type LedgerEntry,
  type PreparedMutation,
} from "@greentic/environment-store/contract";
import { storeError } from "./errors.js";
import { migrateSchema, requireSchema, type MigrateSchemaResult } from "./schema.js";
import { parseStoreUrl, type PostgresLocation } from "./url.js";

/** First key of every advisory lock this store takes ("gtop"); the second is hashtext(env_id). */
export const LOCK_CLASS = 1735683952;

export interface PostgresStoreOptions {
  /** `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=…]`. */
  url: string;
  /** Where the URL came from, for error messages (`--store`, `GREENTIC_STORE_URL`). */
  source?: string | undefined;
  /** How long a mutation waits for another writer's lock before failing with `locked`. Default 30 000 ms. */
  lockTimeoutMs?: number | undefined;
  /** Called once per mutation that has to wait for another writer (e.g. to tell the user who). */
  onLockWait?: ((envId: string, holder: LockRecord | undefined) => void) | undefined;
  /** Backups kept per file. Default 50. */
  backupRetention?: number | undefined;
  /** Idempotency entries kept per environment. Default 4 096. */
  ledgerCapacity?: number | undefined;
  /** Authorization hook evaluated before every mutation. Default: the local store's. */
  authorize?: Authorizer | undefined;
  /** Root of deployer-local data directories on this machine. Default `$GREENTIC_HOME/local-data`, else `~/.greentic/local-data`. */
  dataRoot?: string | undefined;
}

/** One `greentic.environments` row. */
interface EnvRow {
  env_id: string;
  stream: string;
  generation: string;
  etag: string;
  document: string;
  audit_lines: string;
  audit_head: string | null;
}

/** A row after its checks: the document parses, validates, and hashes to its etag. */
interface CurrentRow {
  row: EnvRow;
  environment: Environment;
  etag: string;
  generation: number;
}

interface Txn {
  client: pg.PoolClient;
  /**
   * The environment's row and side documents, read in the round trip that took the lock (when
   * the lock was free at once): read committed, after the lock, so current.
   */
  prefetched?: { row: EnvRow | undefined; sides: Map<string, string> } | undefined;
  /** Thrown after COMMIT: a committed-on-error outcome is kept. */
  afterCommit?: GreenticError | undefined;
}

interface SideRow {
  file: string;
  content: string;
}

/** A new document for the row, written with the audit head when the row is still at generation `base`. */
interface NewDocument {
  base: number;
  generation: number;
  etag: string;
  text: string;
}

/** Thrown inside a mutation to commit what it wrote (a denial's audit event), then throw `error`. */
class CommitThenThrow extends Error {
  constructor(readonly error: GreenticError) {
    super(error.message);
  }
}

/**
 * The `EnvironmentStore` on PostgreSQL. Every mutation is one transaction: it takes the
 * environment's advisory transaction lock (released by COMMIT, ROLLBACK, or the server when the
 * client's connection dies: no stale locks), reads the row, runs the contract's checks
 * (authorization, idempotency ledger, compare-and-swap precondition) with the local store's
 * own functions, and writes the document, the side documents, the backups of what it
 * replaces, the hash-chained audit event and the ledger entry together, the row's update
 * itself guarded by its generation. Reads are single statements on committed rows.
 */
export class PostgresStore implements EnvironmentStore {
  readonly location: PostgresLocation;
  private readonly pool: pg.Pool;
  private readonly timeoutMs: number;
  private readonly retention: number;
  private readonly ledgerCapacity: number;
  private readonly authorizer: Authorizer;
  private readonly onLockWait: PostgresStoreOptions["onLockWait"];
  private readonly dataRoot: string;
  private schemaChecked = false;

  constructor(options: PostgresStoreOptions) {
    this.location = parseStoreUrl(options.url, options.source);
    this.timeoutMs = options.lockTimeoutMs ?? 30_000;
    this.retention = options.backupRetention ?? 50;
    // As the local store checks it (same kind and words), before a connection pool exists.
    if (!Number.isInteger(this.retention) || this.retention < 1)
      throw new GreenticError("invalid-argument", `backupRetention must be a positive integer, got ${this.retention}`, {
        hint: "the default is 50",
      });
    this.ledgerCapacity = options.ledgerCapacity ?? 4096;
    this.authorizer = options.authorize ?? authorizeLocalOwner;
    this.onLockWait = options.onLockWait;
    const home = process.env.GREENTIC_HOME;
    this.dataRoot = resolve(
      options.dataRoot ?? (home ? join(home, "local-data") : join(homedir(), ".greentic", "local-data")),
    );
    this.pool = new pg.Pool({
      connectionString: this.location.url,
      max: 4,
      allowExitOnIdle: true,
      connectionTimeoutMillis: 10_000,
      application_name: clip(`op/${process.pid}@${hostname()}`),
    });
    // A connection the server drops (a restart, pg_terminate_backend) must not crash the
    // process: the query in flight fails with it and is reported; an idle one is discarded.
    this.pool.on("error", () => {});
    this.pool.on("connect", (client) => client.on("error", () => {}));
  }

  /** The URL without its password. */
  get where(): string {
    return this.location.redacted;
  }

  /** Closes the pool (tests and long-lived callers; the CLI's process exits on idle). */
  async close(): Promise<void> {
    await this.pool.end();
  }

  // ---- connections ------------------------------------------------------------------------

  private async connect(doing: string): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw storeError(error, this.location, doing);
    }
    if (!this.schemaChecked) {
      try {
        await requireSchema(client, this.where);
        this.schemaChecked = true;
      } catch (error) {
        client.release();
        throw storeError(error, this.location, doing);
      }
    }
    return client;
  }

  private async read<T>(doing: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect(doing);
    try {
      return await body(client);
    } catch (error) {
      throw storeError(error, this.location, doing);
    } finally {
      client.release();
    }
  }

  /**
   * One mutation's transaction under the environment's advisory lock. A failed COMMIT leaves
   * the outcome unknown to the client; the error says so and a retry with the same
   * idempotency key replays it if it did commit.
   */
  private async mutate<T>(envId: string, operation: string, body: (txn: Txn) => Promise<T>): Promise<T> {
    const doing = `${operation} on environment ${envId}`;
    const client = await this.connect(doing);
    const txn: Txn = { client };
    let broken = false;
    let value: T;
    try {
      // One round trip: the transaction, its settings, a try at the lock and, read after it,
      // the row and its side documents (a parameterless multi-statement query, so the values
      // go in as escaped literals; the id is a checked environment id besides).
      const id = client.escapeLiteral(envId);
      const begun = (await client.query(
        `BEGIN; SELECT set_config('application_name', ${client.escapeLiteral(clip(`op/${process.pid}@${hostname()} ${operation}`))}, true),
                set_config('lock_timeout', ${client.escapeLiteral(`${Math.max(1, this.timeoutMs)}ms`)}, true),
                pg_try_advisory_xact_lock(${LOCK_CLASS}, hashtext(${id})) AS ok;
         SELECT * FROM greentic.environments WHERE env_id = ${id};
         SELECT file, content FROM greentic.side_files WHERE env_id = ${id}`,
      )) as unknown as [unknown, pg.QueryResult<{ ok: boolean }>, pg.QueryResult<EnvRow>, pg.QueryResult<SideRow>];
      if (begun[1]?.rows[0]?.ok)
        txn.prefetched = { row: begun[2].rows[0], sides: new Map(begun[3].rows.map((r) => [r.file, r.content])) };
      else {
        this.onLockWait?.(envId, await this.lockHolder(client, envId).catch(() => undefined));
        await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_CLASS, envId]);
      }
      value = await body(txn);
    } catch (error) {
      if (error instanceof CommitThenThrow) {
        txn.afterCommit = error.error;
        value = undefined as T;
      } else {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        client.release(broken);
        throw storeError(error, this.location, doing);
      }
    }
    try {
      await client.query("COMMIT");
    } catch (error) {
      client.release(true);
      const mapped = storeError(error, this.location, doing);
      throw new GreenticError(
        mapped.kind,
        `${mapped.message} (while committing: the change may or may not be committed)`,
        {
          hint: "retry with the same --idempotency-key: a committed change is replayed, not applied twice",
          details: { ...(mapped.details as Record<string, unknown> | undefined), committed: "unknown" },
          cause: error,
        },
      );
    }
    client.release();
    if (txn.afterCommit) throw txn.afterCommit;
    return value;
  }

  // ---- schema -----------------------------------------------------------------------------

  /** Applies the schema migrations this store knows (run by the schema's owner). */
  async migrateSchema(): Promise<MigrateSchemaResult> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw storeError(error, this.location, "migrating the schema");
    }
    try {
      return await migrateSchema(client, this.where);
    } catch (error) {
      throw storeError(error, this.location, "migrating the schema");
    } finally {
      client.release();
    }
  }

  // ---- reads ------------------------------------------------------------------------------

  async list(): Promise<EnvironmentSummary[]> {
    return this.read("listing environments", async (c) => {
      const r = await c.query<EnvRow>(`SELECT * FROM greentic.environments ORDER BY env_id COLLATE "C"`);
      return r.rows.map((row) => {
        try {
          const current = this.verifyRow(row);
          return {
            environment_id: row.env_id,
            status: "ok" as const,
            name: current.environment.name,
            generation: current.generation,
            etag: current.etag,
          };
        } catch (error) {
          if (!(error instanceof GreenticError) || error.kind !== "integrity") throw error;
          return { environment_id: row.env_id, status: "integrity" as const, problem: error.message };
        }
      });
    });
  }

  async exists(envId: string): Promise<boolean> {
    assertSafeEnvId(envId);
    return this.read(`reading environment ${envId}`, async (c) => {
      const r = await c.query("SELECT 1 FROM greentic.environments WHERE env_id = $1", [envId]);
      return r.rowCount === 1;
    });
  }

  async load(envId: string): Promise<LoadedEnvironment> {
    assertSafeEnvId(envId);
    return this.read(`loading environment ${envId}`, async (c) => {
      const current = await this.current(c, envId);
      if (!current) throw this.notFound(envId);
      const runtime = await this.readRuntime(c, envId);
      const out: LoadedEnvironment = {
        environment: current.environment,
        etag: current.etag,
        generation: current.generation,
      };
      if (runtime !== undefined) out.runtime = runtime;
      return out;
    });
  }

  async loadRuntime(envId: string): Promise<EnvironmentRuntime | undefined> {
    return (await this.load(envId)).runtime;
  }

  async loadPackAnswers(envId: string, slot: string): Promise<unknown> {
    assertSafeEnvId(envId);
    const rel = packAnswersPath(slot);
    return this.read(`loading pack answers of ${envId}`, async (c) => {
      if (!(await this.current(c, envId))) throw this.notFound(envId);
      return this.readSide(c, envId, rel);
    });
  }

  /** A directory (mode 0700) on this machine for local handlers' artefacts: deployer-local data stays local. */
  async dataDir(envId: string, area: string): Promise<string> {
    assertSafeEnvId(envId);
    assertSafeEnvId(area, "data area");
    const dir = join(this.dataRoot, envId, area);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /**
   * Who holds the environment's lock: the PostgreSQL backend holding its advisory lock, from
   * pg_locks and pg_stat_activity, with the `op` process, host and operation it named itself
   * (its application_name). Undefined when nobody holds it.
   */
  async lockInfo(envId: string): Promise<(LockRecord & { backend_pid: number }) | undefined> {
    assertSafeEnvId(envId);
    return this.read(`reading the lock of ${envId}`, (c) => this.lockHolder(c, envId));
  }

  private async lockHolder(
    c: pg.ClientBase,
    envId: string,
  ): Promise<(LockRecord & { backend_pid: number }) | undefined> {
    const r = await c.query<{
      pid: number;
      application_name: string | null;
      usename: string | null;
      xact_start: Date | null;
      backend_start: Date | null;
    }>(
      `SELECT a.pid, a.application_name, a.usename, a.xact_start, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid
          AND l.objid = hashtext($2)::oid AND l.objsubid = 2`,
      [LOCK_CLASS, envId],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const m = /^op\/(\d+)@(\S+)(?: (.*))?$/u.exec(row.application_name ?? "");
    const since = row.xact_start ?? row.backend_start;
    return {
      id: `pg-backend-${row.pid}`,
      backend_pid: row.pid,
      pid: m ? Number(m[1]) : row.pid,
      host: m ? m[2]! : "unknown",
      user: row.usename ?? "unknown",
      operation: m?.[3] ?? row.application_name ?? "unknown",
      acquired_at: since ? since.toISOString() : new Date().toISOString(),
    };
  }

  async listAudit(envId: string, query: AuditQuery = {}): Promise<AuditEventRecord[]> {
    assertSafeEnvId(envId);
    const since = query.since === undefined ? undefined : new Date(query.since);
    if (since !== undefined && Number.isNaN(since.getTime()))
      throw new GreenticError("invalid-argument", `since ${String(query.since)} is not a date`);
    const limit = query.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
      throw new GreenticError("invalid-argument", `limit must be a positive integer, got ${String(limit)}`, {
        hint: "pass e.g. limit: 100",
      });
    return this.read(`listing the audit of ${envId}`, async (c) => {
      const stream = await this.streamOf(c, envId);
      if (stream === undefined) return [];
      const where = ["stream = $1"];
      const params: unknown[] = [stream];
      const add = (sql: string, value: unknown): void => {
        params.push(value);
        where.push(`${sql} $${params.length}`);
      };
      if (query.noun !== undefined) add("noun =", query.noun);
      if (query.verb !== undefined) add("verb =", query.verb);
      if (query.actor !== undefined) add("actor_user =", query.actor);
      // Second resolution, as the local store compares (other writers use other fraction widths).
      if (since !== undefined) add("date_trunc('second', ts) >=", new Date(Math.floor(since.getTime() / 1000) * 1000));
      let sql = `SELECT line FROM greentic.audit_events WHERE ${where.join(" AND ")} ORDER BY seq DESC`;
      if (limit !== undefined) {
        params.push(limit);
        sql += ` LIMIT $${params.length}`;
      }
      const r = await c.query<{ line: string }>(sql, params);
      const events = r.rows.map((row) => JSON.parse(row.line) as AuditEventRecord).reverse();
      return since === undefined ? events : events.filter((e) => new Date(e.ts).getTime() >= since.getTime());
    });
  }

  /**
   * Walks the hash chain with the local store's own check, then checks it against the
   * environment row: contiguous sequence numbers, as many events as the row counts, and the
   * newest event hashing to the head the row records (a deleted or edited tail is reported).
   */
  async verifyAudit(envId: string): Promise<AuditVerification> {
    assertSafeEnvId(envId);
    return this.read(`verifying the audit of ${envId}`, async (c) => {
      const env = await c.query<EnvRow>("SELECT * FROM greentic.environments WHERE env_id = $1", [envId]);
      const row = env.rows[0];
      if (!row) return { ok: true, lines: 0 };
      const r = await c.query<{ seq: string; line: string }>(
        "SELECT seq, line FROM greentic.audit_events WHERE stream = $1 ORDER BY seq",
        [row.stream],
      );
      const lines = r.rows.map((x) => x.line);
      for (let i = 0; i < r.rows.length; i++)
        if (Number(r.rows[i]!.seq) !== i + 1)
          return {
            ok: false,
            lines: lines.length,
            line: i + 1,
            reason: `event ${i + 1} is numbered ${r.rows[i]!.seq}: events were deleted before it`,
          };
      const chain = verifyAuditChain(lines);
      if (!chain.ok) return chain;
      const counted = Number(row.audit_lines);
      if (counted !== lines.length)
        return {
          ok: false,
          lines: lines.length,
          line: Math.min(counted, lines.length) + 1,
          reason: `environment ${envId} records ${counted} audit events but ${lines.length} are stored: events were deleted from the end`,
        };
      const last = lines.at(-1);
      if ((last === undefined ? null : sha256Hex(last)) !== row.audit_head)
        return {
          ok: false,
          lines: lines.length,
          line: lines.length,
          reason: `event ${lines.length} does not hash to the audit head environment ${envId} records: the end of the log was edited`,
        };
      return chain;
    });
  }

  async listBackups(envId: string): Promise<BackupInfo[]> {
    assertSafeEnvId(envId);
    return this.read(`listing the backups of ${envId}`, async (c) => {
      const stream = await this.streamOf(c, envId);
      if (stream === undefined) throw this.notFound(envId);
      const r = await c.query<{ backup_id: string; file: string; created_at: Date; content: string }>(
        "SELECT backup_id, file, created_at, content FROM greentic.backups WHERE stream = $1 ORDER BY created_at DESC, backup_id DESC",
        [stream],
      );
      return r.rows.map((b) => backupInfo(envId, b));
    });
  }

  // ---- mutations --------------------------------------------------------------------------

  async checkMutation<R = unknown>(envId: string, options: TransactOptions): Promise<MutationCheck<R>> {
    assertSafeEnvId(envId);
    const prepared = prepareMutation(options);
    return this.mutate(envId, `${prepared.noun} ${prepared.verb} (check)`, async (txn) => {
      const opened = await this.open<R>(txn, envId, options, prepared);
      if (opened.replayed) return { status: "replay", replayed: opened.replayed };
      // Nothing is committed by a check: the transaction ends with nothing written (a
      // denial's audit event aside).
      return { status: "proceed", etag: opened.current?.etag, generation: opened.current?.generation };
    });
  }

  async transact<R>(envId: string, fn: Transform<R>, options: TransactOptions): Promise<TransactResult<R>> {
    assertSafeEnvId(envId);
    const prepared = prepareMutation(options);
    return this.mutate(envId, `${prepared.noun} ${prepared.verb}`, async (txn) => {
      const opened = await this.open<R>(txn, envId, options, prepared);
      if (opened.replayed) return opened.replayed;
      const { current, event, now } = opened;
      const c = txn.client;
      const planned = await planChange<R>({
        envId,
        base: current,
        now,
        event,
        options,
        prepared,
        fn,
        readRuntime: () => this.readRuntime(c, envId, txn.prefetched?.sides),
        readSide: async (rel) => (current ? this.readSide(c, envId, rel, txn.prefetched?.sides) : undefined),
        dropUnchanged: (side) => this.dropUnchanged(c, envId, side, current !== undefined, txn.prefetched?.sides),
      });
      if (planned.quiet) return planned.quiet;
      const { outcome, document, etag, generation, side, ledger, response } = planned;
      const audit = await this.commitChange(txn, envId, current, { document, etag, generation, side, event, ledger });
      response.audit = audit;
      if (outcome.error) txn.afterCommit = outcome.error;
      return { result: outcome.result, etag, generation, idempotency: "applied" as const, audit };
    });
  }

  async restore(
    envId: string,
    backupId: string,
    precondition: Precondition,
    options: { actor?: AuditActor | undefined } = {},
  ): Promise<TransactResult<{ restored: string; file: string }>> {
    assertSafeEnvId(envId);
    const parsedId = typeof backupId === "string" ? parseBackupId(backupId) : undefined;
    if (!parsedId)
      throw new GreenticError("invalid-argument", `backup id ${JSON.stringify(backupId)} is not a backup id`, {
        hint: "take an id from listBackups, e.g. environment.json.20260701T120000.123000000Z.bak",
      });
    if (precondition?.if_match === undefined && precondition?.expected_generation === undefined)
      throw new GreenticError(
        "precondition-failed",
        `restoring ${backupId} into environment ${envId} requires a precondition (if_match or expected_generation)`,
        { hint: "pin the state you are replacing: pass the current etag or generation (from load)" },
      );
    const rel = parsedId.file;
    if (rel !== ENVIRONMENT_FILE && rel !== RUNTIME_FILE && !/^env-packs\/[^/]+\/answers\.json$/u.test(rel))
      throw new GreenticError(
        "invalid-argument",
        `backup ${backupId} is of ${rel}, which is derived and cannot be restored`,
        {
          hint: "restore environment.json instead; derived files follow it",
        },
      );
    const target = { backup_id: backupId, file: rel };
    const mutation: TransactOptions = { noun: "env", verb: "restore", actor: options.actor, precondition, target };
    const prepared = prepareMutation(mutation);
    return this.mutate(envId, "env restore", async (txn) => {
      const opened = await this.open<never>(txn, envId, mutation, prepared);
      const current = opened.current!;
      const c = txn.client;
      const b = await c.query<{ backup_id: string; file: string; created_at: Date; content: string }>(
        "SELECT backup_id, file, created_at, content FROM greentic.backups WHERE stream = $1 AND backup_id = $2",
        [current.row.stream, backupId],
      );
      const backup = b.rows[0];
      if (!backup)
        throw new GreenticError("not-found", `backup ${backupId} of environment ${envId} does not exist`, {
          hint: `list backups with \`op env backups ${envId}\``,
        });
      const info = backupInfo(envId, backup);
      if (!info.valid)
        throw new GreenticError("integrity", `backup ${backupId} of environment ${envId} is damaged: ${info.problem}`, {
          hint: "choose another backup from `op env backups`",
        });
      const value = JSON.parse(backup.content) as Record<string, unknown>;
      const side = new Map<string, unknown>();
      const generation = current.generation + 1;
      let environment: Record<string, unknown>;
      if (rel === ENVIRONMENT_FILE) {
        environment = { ...value, generation };
        const parsedEnv = parseEnvironment(environment);
        if (parsedEnv.ok) stageRuntimeConfig(parsedEnv.value, side);
      } else {
        environment = { ...current.environment, generation };
        side.set(rel, value);
      }
      await this.dropUnchanged(c, envId, side, true);
      const { event } = opened;
      event.previous_generation = current.generation;
      event.new_generation = generation;
      const etag = canonicalDigest(JSON.parse(prettyJson(environment)));
      const audit = await this.commitChange(txn, envId, current, {
        document: environment,
        etag,
        generation,
        side,
        event,
      });
      return { result: { restored: backupId, file: rel }, etag, generation, idempotency: "applied" as const, audit };
    });
  }

  async destroy(
    envId: string,
    options: { actor?: AuditActor | undefined; precondition?: Precondition | undefined } = {},
  ): Promise<{ audit: AuditEventRecord }> {
    assertSafeEnvId(envId);
    const mutation: TransactOptions = {
      noun: "env",
      verb: "destroy",
      actor: options.actor,
      precondition: options.precondition,
      target: { environment_id: envId },
    };
    const prepared = prepareMutation(mutation);
    return this.mutate(envId, "env destroy", async (txn) => {
      const opened = await this.open<never>(txn, envId, mutation, prepared);
      const current = opened.current!;
      const { event } = opened;
      event.previous_generation = current.generation;
      const c = txn.client;
      // The history stays: the audit events, ledger and backups keep the row's stream; the
      // destroyed table keeps the last document.
      const audit = await this.appendEvent(c, current.row, event);
      await c.query(
        "INSERT INTO greentic.destroyed (stream, env_id, destroyed_at, event_id, document) VALUES ($1, $2, $3, $4, $5)",
        [current.row.stream, envId, opened.now, event.event_id, current.row.document],
      );
      await c.query("DELETE FROM greentic.environments WHERE env_id = $1 AND generation = $2", [
        envId,
        current.generation,
      ]);
      return { audit };
    });
  }

  // ---- copying in -------------------------------------------------------------------------

  /**
   * Writes a snapshot taken from another store (`op store copy`) as a new environment, in one
   * transaction under the environment's lock: refused (`conflict`) when the environment
   * already exists here, and (`integrity`) when the snapshot does not check out: the document
   * must validate and hash to its etag, the audit lines must form a verified chain, and each
   * backup must be a valid backup id. After the commit the copy is read back and checked again.
   */
  async importEnvironment(snapshot: EnvironmentSnapshot): Promise<{ audit_events: number; backups: number }> {
    const envId = snapshot.environment_id;
    assertSafeEnvId(envId);
    const bad = (why: string) =>
      new GreenticError(
        "integrity",
        `the copy of environment ${envId} does not check out: ${why}; nothing was written`,
        {
          hint: "verify the source (`op audit verify`, `op env show`) and copy again",
        },
      );
    let json: unknown;
    try {
      json = JSON.parse(snapshot.document);
    } catch (error) {
      throw bad(`its document is not JSON (${(error as Error).message})`);
    }
    if (canonicalDigest(json) !== snapshot.etag) throw bad(`its document does not hash to etag ${snapshot.etag}`);
    const parsed = parseEnvironment(json, { source: `environment ${envId}` });
    if (!parsed.ok) throw bad(parsed.summary);
    if (parsed.value.environment_id !== envId || parsed.value.generation !== snapshot.generation)
      throw bad("its document's id or generation disagrees with the snapshot");
    const chain = verifyAuditChain(snapshot.audit_lines);
    if (!chain.ok) throw bad(`its audit log does not verify (line ${chain.line}: ${chain.reason})`);
    for (const b of snapshot.backups)
      if (parseBackupId(b.backup_id)?.file !== b.file)
        throw bad(`backup ${JSON.stringify(b.backup_id)} is not a backup id`);
    const side = new Map<string, unknown>(Object.entries(snapshot.side));
    stageRuntimeConfig(parsed.value, side);
    await this.mutate(envId, "store copy", async ({ client: c }) => {
      const exists = await c.query("SELECT generation FROM greentic.environments WHERE env_id = $1", [envId]);
      if (exists.rowCount !== 0)
        throw new GreenticError(
          "conflict",
          `environment ${envId} already exists in ${this.where} (generation ${exists.rows[0].generation}); op store copy never overwrites`,
          { hint: "destroy it there first, or copy the other environments with --env" },
        );
      const stream = newUlid();
      const last = snapshot.audit_lines.at(-1);
      await c.query(
        `INSERT INTO greentic.environments (env_id, stream, generation, etag, document, audit_lines, audit_head)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          envId,
          stream,
          snapshot.generation,
          snapshot.etag,
          snapshot.document,
          snapshot.audit_lines.length,
          last === undefined ? null : sha256Hex(last),
        ],
      );
      for (const [rel, value] of side)
        if (value !== null && value !== undefined)
          await c.query("INSERT INTO greentic.side_files (env_id, file, content) VALUES ($1, $2, $3)", [
            envId,
            rel,
            prettyJson(value),
          ]);
      for (let i = 0; i < snapshot.audit_lines.length; i++) {
        const line = snapshot.audit_lines[i]!;
        const e = JSON.parse(line) as AuditEventRecord;
        await c.query(
          `INSERT INTO greentic.audit_events (stream, seq, env_id, event_id, ts, noun, verb, actor_user, line)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [stream, i + 1, envId, e.event_id, e.ts, e.noun, e.verb, e.actor?.user ?? null, line],
        );
      }
      for (const b of snapshot.backups)
        await c.query(
          "INSERT INTO greentic.backups (stream, backup_id, file, created_at, content) VALUES ($1, $2, $3, $4, $5)",
          [stream, b.backup_id, b.file, parseBackupId(b.backup_id)!.created_at, b.content],
        );
    });
    // Read back what arrived: the same etag and generation, and a chain that verifies here.
    const arrived = await this.load(envId);
    const verified = await this.verifyAudit(envId);
    if (arrived.etag !== snapshot.etag || arrived.generation !== snapshot.generation || !verified.ok)
      throw new GreenticError("integrity", `environment ${envId} did not arrive intact in ${this.where}`, {
        hint: "inspect it with `op env show` and `op audit verify` against the shared store",
      });
    return { audit_events: verified.lines, backups: snapshot.backups.length };
  }

  // ---- the pipeline -----------------------------------------------------------------------

  /**
   * The checks every mutation starts with, in the local store's order, under the held lock:
   * existence, authorization (a denial is audited and committed), the idempotency ledger (same
   * key and request: the recorded result; another request: `idempotency-conflict`), then the
   * compare-and-swap precondition.
   */
  private async open<R>(
    txn: Txn,
    envId: string,
    options: TransactOptions,
    prepared: PreparedMutation,
  ): Promise<{ current: CurrentRow | undefined; now: string; event: AuditEventRecord; replayed?: TransactResult<R> }> {
    const c = txn.client;
    const current = txn.prefetched
      ? txn.prefetched.row && this.verifyRow(txn.prefetched.row)
      : await this.current(c, envId);
    if (!current && !options.create) throw this.notFound(envId);
    const now = new Date().toISOString();
    const { noun, verb, actor } = prepared;
    const decision = await decide({ authorizer: this.authorizer }, actor, envId, noun, verb, options.target ?? null);
    const event = newEvent(envId, actor, noun, verb, options.target ?? null, decision, now);
    if (options.idempotencyKey !== undefined) event.idempotency_key = options.idempotencyKey;
    if (decision.decision !== "allow") {
      const { policy, reason } = decision;
      const error = new GreenticError(
        "unauthorized",
        `${noun} ${verb} on environment ${envId} denied by policy ${policy}: ${reason}`,
        { hint: "ask an operator with access to this environment", details: { policy, reason } },
      );
      event.result = { outcome: "error", kind: "unauthorized", message: error.message };
      if (current) {
        await this.appendEvent(c, current.row, event);
        throw new CommitThenThrow(error);
      }
      throw error;
    }
    if (options.idempotencyKey !== undefined && current) {
      const r = await c.query<{ entry: string }>("SELECT entry FROM greentic.ledger WHERE stream = $1 AND key = $2", [
        current.row.stream,
        options.idempotencyKey,
      ]);
      const raw = r.rows[0]?.entry;
      if (raw !== undefined) {
        let entry: unknown;
        try {
          entry = JSON.parse(raw);
        } catch (error) {
          throw this.damagedEntry(envId, options.idempotencyKey, `not valid JSON (${(error as Error).message})`);
        }
        const problem = ledgerEntryProblem(entry);
        if (problem !== undefined) throw this.damagedEntry(envId, options.idempotencyKey, problem);
        return {
          current,
          now,
          event,
          replayed: replayLedgerEntry<R>(envId, entry as LedgerEntry, prepared.fingerprint),
        };
      }
    }
    checkPrecondition(envId, current, prepared.precondition);
    return { current, now, event };
  }

  /**
   * Writes one change inside the mutation's transaction: backups of what it replaces, the
   * row (guarded by its generation: the compare-and-swap), the side documents, the chained
   * audit event and the ledger entry, then the retention of backups and ledger.
   */
  private async commitChange(
    txn: Txn,
    envId: string,
    current: CurrentRow | undefined,
    plan: {
      document: Record<string, unknown> | undefined;
      etag: string;
      generation: number;
      side: Map<string, unknown>;
      event: AuditEventRecord;
      ledger?: LedgerEntry | undefined;
    },
  ): Promise<AuditEventRecord> {
    const c = txn.client;
    let row: EnvRow;
    // The new document goes in with the audit head, in one guarded UPDATE (appendEvent).
    let document: NewDocument | undefined;
    if (current === undefined) {
      const text = prettyJson(plan.document);
      const r = await c.query<EnvRow>(
        `INSERT INTO greentic.environments (env_id, stream, generation, etag, document)
         VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [envId, newUlid(), plan.generation, plan.etag, text],
      );
      row = r.rows[0]!;
    } else {
      row = current.row;
      if (plan.document !== undefined) {
        await this.backup(c, row.stream, ENVIRONMENT_FILE, row.document);
        document = {
          base: current.generation,
          generation: plan.generation,
          etag: plan.etag,
          text: prettyJson(plan.document),
        };
      }
    }
    for (const [rel, value] of plan.side) {
      if (current !== undefined) {
        const old = txn.prefetched
          ? txn.prefetched.sides.get(rel)
          : (
              await c.query<{ content: string }>(
                "SELECT content FROM greentic.side_files WHERE env_id = $1 AND file = $2",
                [envId, rel],
              )
            ).rows[0]?.content;
        if (old !== undefined && /^(runtime\.json|env-packs\/.+)$/u.test(rel))
          await this.backup(c, row.stream, rel, old);
      }
      if (value === null || value === undefined)
        await c.query("DELETE FROM greentic.side_files WHERE env_id = $1 AND file = $2", [envId, rel]);
      else
        await c.query(
          `INSERT INTO greentic.side_files (env_id, file, content) VALUES ($1, $2, $3)
           ON CONFLICT (env_id, file) DO UPDATE SET content = EXCLUDED.content`,
          [envId, rel, prettyJson(value)],
        );
    }
    const audit = await this.appendEvent(c, row, plan.event, document);
    if (plan.ledger) {
      plan.ledger.response.audit = audit;
      await c.query(
        "INSERT INTO greentic.ledger (stream, key, generation, recorded_at, entry) VALUES ($1, $2, $3, $4, $5)",
        [row.stream, plan.ledger.key, plan.ledger.generation, plan.ledger.recorded_at, prettyJson(plan.ledger)],
      );
      await c.query(
        `DELETE FROM greentic.ledger WHERE stream = $1 AND key IN (
           SELECT key FROM greentic.ledger WHERE stream = $1 ORDER BY generation DESC, recorded_at DESC OFFSET $2)`,
        [row.stream, this.ledgerCapacity],
      );
    }
    return audit;
  }

  /**
   * Appends the event to the row's chain (prev_hash = SHA-256 of the previous line) and moves
   * the head. `row` was read in this transaction under the environment's lock, so its head is
   * current; the head's update is still guarded by its line count, and (stream, seq) is unique.
   */
  private async appendEvent(
    c: pg.ClientBase,
    row: EnvRow,
    event: AuditEventRecord,
    document?: NewDocument,
  ): Promise<AuditEventRecord> {
    const lines = Number(row.audit_lines);
    const prev = row.audit_head;
    const chained: AuditEventRecord = { ...event };
    if (prev !== null) chained.prev_hash = prev;
    const line = JSON.stringify(chained);
    const values: unknown[] = [
      row.stream,
      lines + 1,
      row.env_id,
      chained.event_id,
      chained.ts,
      chained.noun,
      chained.verb,
      chained.actor?.user ?? null,
      line,
      sha256Hex(line),
      lines,
    ];
    // One statement: the event's row, and the head moved past it (with the new document, when
    // there is one: the compare-and-swap on the generation this change was planned on).
    let set = "";
    let guard = "";
    if (document !== undefined) {
      values.push(document.generation, document.etag, document.text, document.base);
      set = ", generation = $12, etag = $13, document = $14, updated_at = now()";
      guard = " AND generation = $15";
    }
    const r = await c.query(
      `WITH event AS (
         INSERT INTO greentic.audit_events (stream, seq, env_id, event_id, ts, noun, verb, actor_user, line)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       )
       UPDATE greentic.environments SET audit_lines = $2, audit_head = $10${set}
        WHERE env_id = $3 AND audit_lines = $11${guard}`,
      values,
    );
    if (r.rowCount !== 1)
      throw new GreenticError(
        "precondition-failed",
        document !== undefined
          ? `environment ${row.env_id} changed while generation ${document.generation} was being written; nothing was committed`
          : `environment ${row.env_id}: its audit log moved while this event was being appended; nothing was committed`,
        { hint: "reload the environment and retry against the current state" },
      );
    return chained;
  }

  /**
   * Stores a backup of `rel` and trims its backups to the retention, in one round trip. The
   * DELETE's snapshot does not see the row inserted beside it, so it keeps one old backup
   * fewer when the insert took place. A taken id (two backups in one clock tick) is retried
   * with a counter.
   */
  private async backup(c: pg.ClientBase, stream: string, rel: string, content: string): Promise<void> {
    const stamp = backupTimestamp();
    for (let n = 0; n < 1024; n++) {
      const id = `${rel}.${stamp}${n === 0 ? "" : `.${n}`}.bak`;
      const r = await c.query<{ inserted: string }>(
        `WITH ins AS (
           INSERT INTO greentic.backups (stream, backup_id, file, created_at, content) VALUES ($1, $2, $3, now(), $4)
           ON CONFLICT DO NOTHING RETURNING 1
         ), trimmed AS (
           DELETE FROM greentic.backups WHERE stream = $1 AND file = $3 AND backup_id IN (
             SELECT backup_id FROM greentic.backups WHERE stream = $1 AND file = $3
              ORDER BY created_at DESC, backup_id DESC OFFSET GREATEST(0, $5::int - (SELECT count(*) FROM ins)))
         )
         SELECT count(*) AS inserted FROM ins`,
        [stream, id, rel, content, this.retention],
      );
      if (Number(r.rows[0]?.inserted) === 1) return;
    }
  }

  /** Drops staged side writes equal to what is stored; true if any real change remains. */
  private async dropUnchanged(
    c: pg.ClientBase,
    envId: string,
    side: Map<string, unknown>,
    exists: boolean,
    sides?: ReadonlyMap<string, string>,
  ): Promise<boolean> {
    for (const [rel, value] of side) {
      const stored = exists ? await this.readSide(c, envId, rel, sides) : undefined;
      const same =
        stored === undefined ? value === null : value !== null && canonicalJson(stored) === canonicalJson(value);
      if (same) side.delete(rel);
    }
    return side.size > 0;
  }

  // ---- verified reads ---------------------------------------------------------------------

  private async current(c: pg.ClientBase, envId: string): Promise<CurrentRow | undefined> {
    const r = await c.query<EnvRow>("SELECT * FROM greentic.environments WHERE env_id = $1", [envId]);
    return r.rows[0] ? this.verifyRow(r.rows[0]) : undefined;
  }

  private async streamOf(c: pg.ClientBase, envId: string): Promise<string | undefined> {
    const r = await c.query<{ stream: string }>("SELECT stream FROM greentic.environments WHERE env_id = $1", [envId]);
    return r.rows[0]?.stream;
  }

  /** The row's document parses, validates, carries the row's generation, and hashes to its etag. */
  private verifyRow(row: EnvRow): CurrentRow {
    const where = `${this.where} environment ${row.env_id}`;
    let json: unknown;
    try {
      json = JSON.parse(row.document);
    } catch (error) {
      throw this.integrity(row.env_id, `${where}: the stored document is not valid JSON (${(error as Error).message})`);
    }
    const etag = canonicalDigest(json);
    if (etag !== row.etag)
      throw this.integrity(
        row.env_id,
        `${where}: the stored document does not hash to its etag ${row.etag}: it was changed outside the store`,
      );
    const parsed = parseEnvironment(json, { source: where });
    if (!parsed.ok) throw this.integrity(row.env_id, `${where}: ${parsed.summary}`);
    const generation = Number(row.generation);
    if (parsed.value.generation !== generation || parsed.value.environment_id !== row.env_id)
      throw this.integrity(row.env_id, `${where}: the document's id or generation disagrees with its row`);
    return { row, environment: parsed.value, etag, generation };
  }

  /** A side document, parsed; from `sides` (read with the lock) when given. */
  private async readSide(
    c: pg.ClientBase,
    envId: string,
    rel: string,
    sides?: ReadonlyMap<string, string>,
  ): Promise<unknown> {
    const raw = sides
      ? sides.get(rel)
      : (
          await c.query<{ content: string }>(
            "SELECT content FROM greentic.side_files WHERE env_id = $1 AND file = $2",
            [envId, rel],
          )
        ).rows[0]?.content;
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw);
    } catch (error) {
      throw this.integrity(
        envId,
        `${this.where} environment ${envId}: ${rel} is not valid JSON (${(error as Error).message})`,
      );
    }
  }

  private async readRuntime(
    c: pg.ClientBase,
    envId: string,
    sides?: ReadonlyMap<string, string>,
  ): Promise<EnvironmentRuntime | undefined> {
    const json = await this.readSide(c, envId, RUNTIME_FILE, sides);
    if (json === undefined) return undefined;
    const parsed = parseDocument(EnvironmentRuntimeSchema, json, { source: RUNTIME_FILE });
    if (!parsed.ok) throw this.integrity(envId, `${this.where} environment ${envId}: ${parsed.summary}`);
    if (parsed.value.environment_id !== envId)
      throw this.integrity(
        envId,
        `${this.where} environment ${envId}: ${RUNTIME_FILE} names ${parsed.value.environment_id}`,
      );
    return parsed.value;
  }

  private integrity(envId: string, message: string): GreenticError {
    return new GreenticError("integrity", message, {
      hint: `restore a backup (\`op env backups ${envId}\`)`,
    });
  }

  private damagedEntry(envId: string, key: string, problem: string): GreenticError {
    return new GreenticError(
      "integrity",
      `idempotency ledger entry ${JSON.stringify(key)} of ${envId} is damaged: ${problem}`,
      {
        hint: "the request it records may already be applied: check `op audit list` for its key",
      },
    );
  }

  private notFound(envId: string): GreenticError {
    return new GreenticError("not-found", `environment ${envId} does not exist in ${this.where}`, {
      hint: "list environments with `op env list`, or create it first",
    });
  }
}

/** A backup row as `BackupInfo`, checked the way a load checks it. */
function backupInfo(
  envId: string,
  b: { backup_id: string; file: string; created_at: Date; content: string },
): BackupInfo {
  const info: BackupInfo = {
    backup_id: b.backup_id,
    file: b.file,
    created_at: b.created_at.toISOString(),
    size_bytes: Buffer.byteLength(b.content),
    valid: true,
  };
  let json: unknown;
  try {
    json = JSON.parse(b.content);
  } catch (error) {
    return { ...info, valid: false, problem: `not valid JSON (${(error as Error).message})` };
  }
  if (b.file === ENVIRONMENT_FILE) {
    const parsed = parseEnvironment(json);
    if (!parsed.ok) return { ...info, valid: false, problem: parsed.summary };
    if (parsed.value.environment_id !== envId)
      return { ...info, valid: false, problem: `it is environment ${parsed.value.environment_id}` };
    info.generation = parsed.value.generation;
    info.etag = canonicalDigest(json);
  }
  return info;
}

/** application_name holds at most 63 bytes. */
function clip(text: string): string {
  const b = Buffer.from(text);
  return b.length <= 63
    ? text
    : b
        .subarray(0, 63)
        .toString("utf8")
        .replace(/\uFFFD$/u, "");
}
