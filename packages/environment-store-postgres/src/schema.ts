import { GreenticError } from "@greentic/deploy-spec";
import type { ClientBase } from "pg";

// Versioned schema migrations. Each runs once, in order, in one transaction, and records its
// version in greentic.schema_version. The store refuses a database newer than it knows (an
// older CLI must not write a schema it does not understand) and one that is not migrated yet.
// The role `op` runs as needs no DDL: migrations are applied by the schema's owner through
// `op store migrate-schema`, and grant the operator role exactly what the store does.

/** The role the store's users are members of (see docs/postgres-store.md). */
export const OPERATOR_ROLE = "greentic_op";

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "environments, side documents, hash-chained audit, idempotency ledger, backups",
    sql: `
CREATE TABLE greentic.environments (
  env_id text PRIMARY KEY,
  -- This incarnation of the environment: audit, ledger and backups hang off it and outlive a destroy.
  stream text NOT NULL UNIQUE,
  generation bigint NOT NULL CHECK (generation >= 1),
  etag text NOT NULL,
  document text NOT NULL,
  audit_lines bigint NOT NULL DEFAULT 0,
  audit_head text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE greentic.side_files (
  env_id text NOT NULL REFERENCES greentic.environments (env_id) ON DELETE CASCADE,
  file text NOT NULL,
  content text NOT NULL,
  PRIMARY KEY (env_id, file)
);
CREATE TABLE greentic.audit_events (
  stream text NOT NULL,
  seq bigint NOT NULL CHECK (seq >= 1),
  env_id text NOT NULL,
  event_id text NOT NULL UNIQUE,
  ts timestamptz NOT NULL,
  noun text NOT NULL,
  verb text NOT NULL,
  actor_user text,
  line text NOT NULL,
  PRIMARY KEY (stream, seq)
);
CREATE TABLE greentic.ledger (
  stream text NOT NULL,
  key text NOT NULL,
  generation bigint NOT NULL,
  recorded_at timestamptz NOT NULL,
  entry text NOT NULL,
  PRIMARY KEY (stream, key)
);
CREATE INDEX ledger_age ON greentic.ledger (stream, generation);
CREATE TABLE greentic.backups (
  stream text NOT NULL,
  backup_id text NOT NULL,
  file text NOT NULL,
  created_at timestamptz NOT NULL,
  content text NOT NULL,
  PRIMARY KEY (stream, backup_id)
);
CREATE INDEX backups_by_file ON greentic.backups (stream, file, created_at);
CREATE TABLE greentic.destroyed (
  stream text PRIMARY KEY,
  env_id text NOT NULL,
  destroyed_at timestamptz NOT NULL,
  event_id text NOT NULL,
  document text NOT NULL
);
-- The operator role reads and writes rows, never the schema; the audit log is append-only to it.
GRANT USAGE ON SCHEMA greentic TO ${OPERATOR_ROLE};
GRANT SELECT ON greentic.schema_version TO ${OPERATOR_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON greentic.environments, greentic.side_files, greentic.ledger TO ${OPERATOR_ROLE};
GRANT SELECT, INSERT, DELETE ON greentic.backups TO ${OPERATOR_ROLE};
GRANT SELECT, INSERT ON greentic.audit_events, greentic.destroyed TO ${OPERATOR_ROLE};
`,
  },
];

/** The newest schema version this store knows. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** The database's schema version: 0 when greentic.schema_version does not exist. */
export async function schemaVersion(client: ClientBase): Promise<number> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('greentic.schema_version')::text AS t");
  if (exists.rows[0]?.t === null || exists.rows[0]?.t === undefined) return 0;
  const r = await client.query<{ v: number | null }>("SELECT max(version)::int AS v FROM greentic.schema_version");
  return r.rows[0]?.v ?? 0;
}

/** Refuses a database that is not at this store's schema version, before anything is read. */
export async function requireSchema(client: ClientBase, where: string): Promise<void> {
  const version = await schemaVersion(client);
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) throw newerDatabase(where, version);
  throw new GreenticError(
    "io",
    version === 0
      ? `the PostgreSQL store at ${where} has no greentic schema yet`
      : `the PostgreSQL store at ${where} is at schema version ${version}; this op needs version ${SCHEMA_VERSION}`,
    {
      hint: `the schema's owner runs \`op store migrate-schema --store <admin URL>\` (see docs/postgres-store.md)`,
      details: { schema_version: version, required: SCHEMA_VERSION },
    },
  );
}

function newerDatabase(where: string, version: number): GreenticError {
  return new GreenticError(
    "conflict",
    `the PostgreSQL store at ${where} is at schema version ${version}, newer than this op knows (${SCHEMA_VERSION})`,
    {
      hint: "upgrade op; an older op never writes to a newer schema",
      details: { schema_version: version, known: SCHEMA_VERSION },
    },
  );
}

export interface MigrateSchemaResult {
  from_version: number;
  to_version: number;
  applied: { version: number; description: string }[];
}

/**
 * Applies the migrations the database lacks, each in its own transaction, under an advisory
 * lock so that two operators migrating at once apply each version once. Creates the schema
 * and the operator role when they are missing (the caller needs the rights for that).
 */
export async function migrateSchema(client: ClientBase, where: string): Promise<MigrateSchemaResult> {
  await client.query("SELECT pg_advisory_lock(1735683952, 0)");
  try {
    const from = await schemaVersion(client);
    if (from > SCHEMA_VERSION) throw newerDatabase(where, from);
    const applied: MigrateSchemaResult["applied"] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await client.query("BEGIN");
      try {
        if (m.version === 1) {
          await client.query(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${OPERATOR_ROLE}') THEN CREATE ROLE ${OPERATOR_ROLE} NOLOGIN; END IF;
END $$`);
          await client.query("CREATE SCHEMA IF NOT EXISTS greentic");
          await client.query(
            "CREATE TABLE greentic.schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
          );
        }
        await client.query(m.sql);
        await client.query("INSERT INTO greentic.schema_version (version, description) VALUES ($1, $2)", [
          m.version,
          m.description,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
      applied.push({ version: m.version, description: m.description });
    }
    return { from_version: from, to_version: Math.max(from, SCHEMA_VERSION), applied };
  } finally {
    await client.query("SELECT pg_advisory_unlock(1735683952, 0)").catch(() => {});
  }
}
