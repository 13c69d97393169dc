import { optionalEnvArg, deploymentFlag } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class BundlesRemove extends MutatingCommand<typeof BundlesRemove> {
  static override summary = "Remove a bundle deployment.";
  static override description =
    "Refused (exit 3) while a traffic split routes to it or any of its revisions is not archived; its archived revisions are pruned.";
  static override examples = [
    "<%= config.bin %> bundles remove local --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N",
    "<%= config.bin %> bundles remove --answers remove.yaml",
  ];
  static override answersKey = "bundles remove";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    deployment: deploymentFlag(),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.bundlesRemove(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Removed deployment ${r.deployment_id} (pruned ${r.pruned_revision_ids.length} archived revision(s)).`,
    );
  }
}
