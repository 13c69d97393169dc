import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";

export default class EnvMigrateDev extends OpCommand<typeof EnvMigrateDev> {
  static override summary = "Move a legacy `dev` environment's bindings into another environment.";
  static override description =
    "--check reports findings (blocking or info) and changes nothing; --apply refuses (exit 3) unless the check is clean, merges missing bindings into the target and renames the dev directory aside.";
  static override examples = [
    "<%= config.bin %> env migrate-dev local --check",
    "<%= config.bin %> env migrate-dev local --apply",
  ];
  static override args = { target: Args.string({ description: "Target environment id.", required: true }) };
  static override flags = {
    check: Flags.boolean({ description: "Report only.", exactlyOne: ["check", "apply"] }),
    apply: Flags.boolean({ description: "Migrate.", exactlyOne: ["check", "apply"] }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = (await ops.envMigrateDev(ctx, this.args.target, this.flags.apply ? "apply" : "check")) as Record<
      string,
      any
    >;
    this.done(r, () => {
      if (this.flags.check) {
        const lines = [`dev -> ${r.to_env}: ${r.clean ? "clean" : "blocked"}`];
        for (const f of r.findings ?? []) lines.push(`  ${f.severity} ${f.kind}: ${f.message}`);
        return lines.join("\n");
      }
      return `Migrated dev -> ${r.to_env}: slots ${(r.merged_slots ?? []).join(", ") || "-"}${r.legacy_dir_renamed_to ? `; dev moved to ${r.legacy_dir_renamed_to}` : ""}.`;
    });
  }
}
