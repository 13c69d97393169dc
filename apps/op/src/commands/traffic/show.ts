import { OpCommand } from "../../lib/base.js";
import { deploymentFlag, envArg, listFlags } from "../../lib/args.js";
import { percent } from "../../lib/render.js";

export default class TrafficShow extends OpCommand<typeof TrafficShow> {
  static override summary = "Show the traffic splits of an environment (optionally of one deployment).";
  static override examples = [
    "<%= config.bin %> traffic show local",
    "<%= config.bin %> traffic show local --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --json",
  ];
  static override args = { env: envArg };
  static override flags = {
    ...listFlags,
    deployment: deploymentFlag("Only this deployment's split: its id, a unique id prefix or its bundle id."),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.trafficShow(ctx, this.env, { deploymentId: this.flags.deployment, label: "--deployment" });
    const rows = r.splits.flatMap((s) => s.entries.map((e) => ({ s, e })));
    await this.list(
      r,
      rows,
      [
        { key: "deployment", header: "deployment", get: ({ s }) => s.deployment_id },
        { key: "bundle", header: "bundle", get: ({ s }) => s.bundle_id },
        { key: "generation", header: "generation", get: ({ s }) => s.generation, right: true },
        { key: "revision", header: "revision", get: ({ e }) => e.revision_id },
        { key: "weight", header: "weight", get: ({ e }) => percent(e.weight_bps), right: true },
        { key: "updated-by", header: "updated by", get: ({ s }) => s.updated_by },
      ],
      "No traffic splits.",
    );
  }
}
