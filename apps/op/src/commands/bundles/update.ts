import * as Flags from "@oclif/core/flags";
import { optionalEnvArg, deploymentFlag } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class BundlesUpdate extends MutatingCommand<typeof BundlesUpdate> {
  static override summary = "Change a bundle deployment's status, routes, revenue share or config overrides.";
  static override examples = [
    "<%= config.bin %> bundles update local --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --status paused",
    "<%= config.bin %> bundles update --answers bundle-update.yaml --if-match <etag>",
  ];
  static override answersKey = "bundles update";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    deployment: deploymentFlag(),
    status: Flags.string({ description: "New status (status).", options: ["active", "paused", "archived"] }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.bundlesUpdate(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Updated deployment ${r.deployment.deployment_id} (status ${r.deployment.status}, generation ${r.generation}).`,
    );
  }
}
