import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { table } from "../../lib/render.js";

export default class BundlesList extends OpCommand<typeof BundlesList> {
  static override summary = "List the bundle deployments of an environment.";
  static override examples = ["<%= config.bin %> bundles list local", "<%= config.bin %> bundles list local --json"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.bundlesList(ctx, this.args.env);
    this.done(r, () =>
      table(
        r.bundles,
        [
          { header: "deployment", get: (b) => b.deployment_id },
          { header: "bundle", get: (b) => b.bundle_id },
          { header: "customer", get: (b) => b.customer_id },
          { header: "status", get: (b) => b.status },
          { header: "revisions", get: (b) => b.current_revisions.length, right: true },
          { header: "created", get: (b) => b.created_at },
        ],
        "No bundles deployed. Deploy one with: op deploy --bundle FILE.gtbundle",
      ),
    );
  }
}
