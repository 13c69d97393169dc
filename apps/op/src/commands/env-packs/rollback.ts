import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class EnvPacksRollback extends MutatingCommand<typeof EnvPacksRollback> {
  static override summary = "Restore the previous binding of a slot (one step).";
  static override description = "Refused with exit 3 when the slot has no previous binding.";
  static override examples = ["<%= config.bin %> env-packs rollback local --slot telemetry"];
  static override answersKey = "env-packs rollback";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    slot: Flags.string({ description: "Capability slot (slot), e.g. deployer, secrets, telemetry, sessions, state." }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.envPacksRollback(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Rolled back: ${r.binding.slot} = ${r.binding.kind} (binding generation ${r.binding.generation}, environment generation ${r.generation}).`,
    );
  }
}
