import * as Flags from "@oclif/core/flags";
import { optionalEnvArg, deploymentFlag } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";
import { percent } from "../../lib/render.js";

export default class TrafficRollback extends MutatingCommand<typeof TrafficRollback> {
  static override summary = "Restore a deployment's previous traffic split (one step).";
  static override description = "Every revision of the restored split must still be ready; otherwise exit 3.";
  static override examples = [
    "<%= config.bin %> traffic rollback local --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N",
    "<%= config.bin %> traffic rollback --answers rollback.yaml",
  ];
  static override answersKey = "traffic rollback";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    deployment: deploymentFlag(),
    "updated-by": Flags.string({ description: "Who made the change (updated_by).", helpValue: "NAME" }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.trafficRollback(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Rolled traffic of ${r.restored.deployment_id} back (generation ${r.previous_generation} -> ${r.new_generation}): ${r.restored.entries.map((e) => `${e.revision_id}=${percent(e.weight_bps)}`).join(" ")}.`,
    );
  }
}
