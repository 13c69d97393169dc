import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";

export default class EnvMigrateState extends OpCommand<typeof EnvMigrateState> {
  static override summary = "Retire the legacy <state-dir>/deploy tree of an environment.";
  static override description =
    "--check scans and reports; --apply renames the tree aside under a lock and re-scans. Stop live deploys first.";
  static override examples = [
    "<%= config.bin %> env migrate-state local --check",
    "<%= config.bin %> env migrate-state local --apply --state-dir ~/.greentic/state",
  ];
  static override args = { env: envArg };
  static override flags = {
    check: Flags.boolean({ description: "Report only.", exactlyOne: ["check", "apply"] }),
    apply: Flags.boolean({ description: "Migrate.", exactlyOne: ["check", "apply"] }),
    "state-dir": Flags.string({ description: "Legacy state directory (default ~/.greentic/state).", helpValue: "DIR" }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = (await ops.envMigrateState(
      ctx,
      this.env,
      this.flags.apply ? "apply" : "check",
      this.flags["state-dir"],
    )) as Record<string, any>;
    this.done(r, () => {
      if (this.flags.check) {
        const lines = [`${r.state_dir}: ${r.clean ? "clean" : "blocked"} (${r.leaf_count ?? 0} legacy entries)`];
        for (const f of r.findings ?? []) lines.push(`  ${f.severity} ${f.kind}: ${f.message}`);
        return lines.join("\n");
      }
      return r.legacy_dir_renamed_to ? `Moved the legacy tree to ${r.legacy_dir_renamed_to}.` : "Nothing to migrate.";
    });
  }
}
