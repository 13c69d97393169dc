import { OpCommand } from "../../lib/base.js";

export default class StoreMigrateSchema extends OpCommand<typeof StoreMigrateSchema> {
  static override summary = "Apply the shared store's schema migrations (run by the schema's owner).";
  static override description =
    "Creates or upgrades the greentic schema of the PostgreSQL store named by --store or GREENTIC_STORE_URL, one versioned migration per transaction, and grants the operator role greentic_op what op needs. Refused (exit 3) when the database is newer than this op. Operators' own roles need no DDL rights.";
  static override examples = [
    "<%= config.bin %> store migrate-schema --store postgres://greentic_owner@db.example:5432/greentic",
    "GREENTIC_STORE_URL=postgres://greentic_owner@/greentic?host=/run/postgresql <%= config.bin %> store migrate-schema --json",
  ];

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.storeMigrateSchema(ctx);
    this.done(r, () =>
      r.applied.length === 0
        ? `The store at ${r.store} is at schema version ${r.to_version}; nothing to apply.`
        : `Migrated the store at ${r.store} from schema version ${r.from_version} to ${r.to_version}:\n${r.applied
            .map((m) => `  ${m.version}  ${m.description}`)
            .join("\n")}`,
    );
  }
}
