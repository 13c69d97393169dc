import { GreenticError } from "@greentic/deploy-spec";
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
