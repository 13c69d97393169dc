import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { GreenticError, type Environment } from "@greentic/deploy-spec/documents";
import { checkNewRouteCollisions } from "@greentic/deploy-spec/routes";
import { LocalFsStore, type EnvironmentSnapshot } from "@greentic/environment-store";
import type { OperationsContext } from "./context.js";

/** What `op store migrate-schema` did. */
export interface StoreMigrateSchemaResult {
  store: string;
  from_version: number;
  to_version: number;
  applied: { version: number; description: string }[];
}

interface SchemaOwner {
  where: string;
  migrateSchema(): Promise<Omit<StoreMigrateSchemaResult, "store">>;
}

/**
 * `op store migrate-schema`: applies the shared store's schema migrations. Run by the schema's
 * owner (the operator role has no DDL rights); refused when the database is newer than this
 * op. The local filesystem store has no schema.
 */
export async function storeMigrateSchema(ctx: OperationsContext): Promise<StoreMigrateSchemaResult> {
  const store = ctx.store as Partial<SchemaOwner>;
  if (typeof store.migrateSchema !== "function" || typeof store.where !== "string")
    throw new GreenticError(
      "invalid-argument",
      "migrate-schema applies to a PostgreSQL store; the local store has no schema",
      {
        hint: "pass --store postgres://OWNER@HOST:PORT/DATABASE (or set GREENTIC_STORE_URL)",
      },
    );
  const result = await store.migrateSchema();
  return { store: store.where, ...result };
}

/** What `op store copy` did. */
export interface StoreCopyResult {
  from: string;
  to: string;
  copied: { environment_id: string; generation: number; etag: string; audit_events: number; backups: number }[];
}

interface SnapshotTarget {
  where: string;
  exists(envId: string): Promise<boolean>;
  importEnvironment(snapshot: EnvironmentSnapshot): Promise<{ audit_events: number; backups: number }>;
}

/**
 * `op store copy --from DIR --to URL`: copies environments of the local store at `from` (all,
 * or `envIds`) into the shared store `ctx.store`, with their audit chains and backups. Every
 * environment is checked first: one that does not load or verify at the source, that already
 * exists at the destination, or whose deployments with traffic claim the same requests (a
 * state the store refuses to write, left by another writer), refuses the whole copy before
 * anything is written.
 * Each arrival is read back and verified (see `PostgresStore.importEnvironment`).
 */
export async function storeCopy(
  ctx: OperationsContext,
  options: { from: string; envIds?: string[] | undefined },
): Promise<StoreCopyResult> {
  const target = ctx.store as Partial<SnapshotTarget>;
  if (typeof target.importEnvironment !== "function" || typeof target.where !== "string")
    throw new GreenticError("invalid-argument", "store copy copies into a PostgreSQL store; --to names none", {
      hint: "pass --to postgres://USER@HOST:PORT/DATABASE",
    });
  const from = resolve(options.from);
  if (
    !(await stat(from).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw new GreenticError("not-found", `--from ${from} is not a directory`, {
      hint: "name the local store's environments root, e.g. ~/.greentic/environments",
    });
  const source = new LocalFsStore({ root: from });
  const listed = await source.list();
  const ids = options.envIds ?? listed.map((e) => e.environment_id);
  if (ids.length === 0)
    throw new GreenticError("not-found", `the local store at ${from} has no environments`, {
      hint: "name the local store's environments root, e.g. ~/.greentic/environments",
    });
  for (const id of ids) {
    const row = listed.find((e) => e.environment_id === id);
    if (row === undefined)
      throw new GreenticError("not-found", `environment ${id} does not exist in ${from}`, {
        hint: "list them with `op env list --store-root DIR`",
      });
    if (row.status !== "ok")
      throw new GreenticError(
        "integrity",
        `environment ${id} in ${from} does not load: ${row.problem}; nothing was copied`,
        {
          hint: "repair or restore it first (`op env backups`)",
        },
      );
  }
  const existing = [];
  for (const id of ids) if (await target.exists!(id)) existing.push(id);
  if (existing.length > 0)
    throw new GreenticError(
      "conflict",
      `${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""} in ${target.where}; op store copy never overwrites, and nothing was copied`,
      { hint: "destroy them there first, or leave them out with --env", details: { existing } },
    );
  const snapshots = [];
  for (const id of ids) {
    const snapshot = await source.exportEnvironment(id);
    // Two deployments with traffic claiming the same requests is a state op refuses to write
    // (another writer may have left it in the local store): fixed there first, not carried over.
    try {
      checkNewRouteCollisions(undefined, JSON.parse(snapshot.document) as Environment);
    } catch (error) {
      if (!(error instanceof GreenticError)) throw error;
      throw new GreenticError(
        "conflict",
        `environment ${id} in ${from}: ${error.message}; op store copy does not write that state, and nothing was copied`,
        {
          path: error.path,
          hint: `${error.hint}; run it against the local store (--store-root ${from}), then copy again`,
          details: error.details,
        },
      );
    }
    snapshots.push(snapshot);
  }
  const copied: StoreCopyResult["copied"] = [];
  for (const snapshot of snapshots) {
    const r = await target.importEnvironment(snapshot);
    copied.push({
      environment_id: snapshot.environment_id,
      generation: snapshot.generation,
      etag: snapshot.etag,
      ...r,
    });
  }
  return { from, to: target.where, copied };
}
