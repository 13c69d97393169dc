import { Flags } from "@oclif/core";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { percent, table } from "../../lib/render.js";

export default class TrafficShow extends OpCommand<typeof TrafficShow> {
  static override summary = "Show the traffic splits of an environment (optionally of one deployment).";
  static override examples = [
    "<%= config.bin %> traffic show local",
    "<%= config.bin %> traffic show local --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --json",
  ];
  static override args = { env: envArg };
  static override flags = {
    deployment: Flags.string({ char: "d", description: "Only this deployment's split.", helpValue: "ID" }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.trafficShow(ctx, this.args.env, { deploymentId: this.flags.deployment });
    const rows = r.splits.flatMap((s) => s.entries.map((e) => ({ s, e })));
    this.done(r, () =>
      table(
        rows,
        [
          { header: "deployment", get: ({ s }) => s.deployment_id },
          { header: "bundle", get: ({ s }) => s.bundle_id },
          { header: "generation", get: ({ s }) => s.generation, right: true },
          { header: "revision", get: ({ e }) => e.revision_id },
          { header: "weight", get: ({ e }) => percent(e.weight_bps), right: true },
          { header: "updated by", get: ({ s }) => s.updated_by },
        ],
        "No traffic splits.",
      ),
    );
  }
}
