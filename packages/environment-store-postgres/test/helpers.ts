import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Environment } from "@greentic/deploy-spec";
import { LocalFsStore, type EnvironmentStore, type Transform } from "@greentic/environment-store";
import { GreenticError } from "@greentic/deploy-spec";
import { expect } from "vitest";
import { pgSkip, startPgCluster, type PgCluster } from "../../../scripts/test-support/pg-cluster.ts";
import { PostgresStore } from "../src/index.js";

export { pgSkip, startPgCluster, type PgCluster };

let dbCount = 0;

/**
 * A fresh database on the cluster, migrated by the superuser, with a login role that is only
 * a member of greentic_op (the least-privilege role the docs describe). Returns its URL.
 */
export function freshDatabase(cluster: PgCluster): { admin: string; operator: string; name: string } {
  const name = `gt_${process.pid}_${++dbCount}`;
  cluster.psql(`CREATE DATABASE ${name}`);
  cluster.psql(
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'greentic_op') THEN CREATE ROLE greentic_op NOLOGIN; END IF; " +
      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alice') THEN CREATE ROLE alice LOGIN IN ROLE greentic_op; END IF; END $$",
  );
  return {
    admin: cluster.urlFor("postgres", { database: name }),
    operator: cluster.urlFor("alice", { database: name }),
    name,
  };
}

export async function migrated(cluster: PgCluster): Promise<{ admin: string; operator: string; name: string }> {
  const db = freshDatabase(cluster);
  const admin = new PostgresStore({ url: db.admin });
  await admin.migrateSchema();
  await admin.close();
  return db;
}

export async function tempDir(prefix = "gt-pgs-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export type StoreFactory = (options?: {
  backupRetention?: number;
}) => Promise<{ store: EnvironmentStore; close: () => Promise<void> }>;

/** The two backends, for the conformance suite. */
export function backends(cluster: () => PgCluster): [string, StoreFactory][] {
  return [
    [
      "local filesystem",
      async (options = {}) => {
        const dir = await tempDir();
        return { store: new LocalFsStore({ root: dir, ...options }), close: () => removeDir(dir) };
      },
    ],
    [
      "postgres",
      async (options = {}) => {
        const db = await migrated(cluster());
        const store = new PostgresStore({ url: db.operator, ...options });
        return { store, close: () => store.close() };
      },
    ],
  ];
}

/** A minimal valid environment document. */
export function envDoc(id: string, name = id): Environment {
  return {
    schema: "greentic.environment.v1",
    environment_id: id,
    name,
    host_config: { env_id: id },
    packs: [],
    bundles: [],
    revisions: [],
    traffic_splits: [],
    messaging_endpoints: [],
    extensions: [],
    revocation: { required: false },
    retention: {},
    health: { state: "unknown" },
  };
}

export const create =
  (id: string): Transform<{ created: string }> =>
  (current) => {
    if (current) throw new Error(`${id} exists`);
    return { environment: envDoc(id), result: { created: id } };
  };

export const rename =
  (name: string): Transform<{ name: string }> =>
  (current) => ({ environment: { ...current!, name }, result: { name } });

export async function rejects(p: Promise<unknown>): Promise<GreenticError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(GreenticError);
    return error as GreenticError;
  }
  throw new Error("expected a rejection");
}
