import * as Args from "@oclif/core/args";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { fields, percent, table } from "../../lib/render.js";

export default class BundlesShow extends OpCommand<typeof BundlesShow> {
  static override summary = "Show a bundle deployment with its revisions and traffic split.";
  static override usage = "<%= command.id %> [ENV] DEPLOYMENT";
  static override examples = [
    "<%= config.bin %> bundles show local 01JB7Z5Q0D6E7F8G9H0J1K2M3N",
    "<%= config.bin %> bundles show hello",
  ];
  static override args = {
    env: envArg,
    deployment: Args.string({
      description: "Deployment: its id, a unique id prefix or its bundle id.",
      required: true,
    }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.bundlesShow(ctx, this.env, this.args.deployment, { label: "DEPLOYMENT" });
    this.done(r, () => {
      const d = r.deployment;
      const weights = new Map((r.traffic_split?.entries ?? []).map((e) => [e.revision_id, e.weight_bps]));
      return (
        fields([
          ["deployment", d.deployment_id],
          ["bundle", d.bundle_id],
          ["customer", d.customer_id],
          ["status", d.status],
          ["hosts", d.route_binding.hosts],
          ["path prefixes", d.route_binding.path_prefixes],
          ["traffic generation", r.traffic_split?.generation],
        ]) +
        "\n" +
        table(
          r.revisions,
          [
            { header: "revision", get: (v) => v.revision_id },
            { header: "seq", get: (v) => v.sequence, right: true },
            { header: "lifecycle", get: (v) => v.lifecycle },
            {
              header: "traffic",
              get: (v) => (weights.has(v.revision_id) ? percent(weights.get(v.revision_id)!) : "-"),
              right: true,
            },
            { header: "digest", get: (v) => v.bundle_digest.slice(0, 19) },
          ],
          "No revisions yet.",
        )
      );
    });
  }
}
