import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";

export default class StoreCopy extends OpCommand<typeof StoreCopy> {
  static override summary =
    "Copy environments from a local store into a PostgreSQL store, with their audit chains and backups.";
  static override description =
    "Checks every environment first: one that does not load or whose audit log does not verify at the source, or that already exists at the destination, refuses the whole copy (exit 1 / exit 3) before anything is written. Each environment arrives in one transaction and is read back: same etag and generation, audit chain verified.";
  static override examples = [
    "<%= config.bin %> store copy --from ~/.greentic/environments --to postgres://alice@db.example:5432/greentic",
    "<%= config.bin %> store copy --from /srv/greentic --to postgres://alice@db.example:5432/greentic --env staging --json",
  ];
  static override flags = {
    from: Flags.string({ description: "The local store's environments root.", helpValue: "DIR", required: true }),
    to: Flags.string({ description: "The PostgreSQL store to copy into.", helpValue: "URL", required: true }),
    env: Flags.string({ description: "Copy only this environment (repeatable).", helpValue: "ENV", multiple: true }),
  };

  protected override storeUrl(): { url: string; source: string } {
    return { url: this.flags.to, source: "--to" };
  }

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.storeCopy(ctx, { from: this.flags.from, envIds: this.flags.env });
    this.done(r, () =>
      [
        `Copied ${r.copied.length} environment${r.copied.length === 1 ? "" : "s"} from ${r.from} to ${r.to}:`,
        ...r.copied.map(
          (c) =>
            `  ${c.environment_id}  generation ${c.generation}, ${c.audit_events} audit events, ${c.backups} backups`,
        ),
      ].join("\n"),
    );
  }
}
