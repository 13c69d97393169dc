import { OpCommand } from "../../lib/base.js";
import { envArg, listFlags } from "../../lib/args.js";

export default class BundlesList extends OpCommand<typeof BundlesList> {
  static override summary = "List the bundle deployments of an environment.";
  static override examples = ["<%= config.bin %> bundles list local", "<%= config.bin %> bundles list local --json"];
  static override args = { env: envArg };
  static override flags = { ...listFlags };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.bundlesList(ctx, this.env);
    await this.list(
      r,
      r.bundles,
      [
        { key: "deployment", header: "deployment", get: (b) => b.deployment_id },
        { key: "bundle", header: "bundle", get: (b) => b.bundle_id },
        { key: "customer", header: "customer", get: (b) => b.customer_id },
        { key: "status", header: "status", get: (b) => b.status },
        { key: "revisions", header: "revisions", get: (b) => b.current_revisions.length, right: true },
        { key: "created", header: "created", get: (b) => b.created_at },
      ],
      "No bundles deployed. Deploy one with: op deploy --bundle FILE.gtbundle",
    );
  }
}
