import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class EnvPacksRemove extends MutatingCommand<typeof EnvPacksRemove> {
  static override summary = "Unbind the env-pack of a slot.";
  static override description =
    "Core slots (deployer, secrets...) cannot be left empty while revisions depend on them; such a removal is refused with exit 3.";
  static override examples = [
    "<%= config.bin %> env-packs remove staging --slot telemetry",
    "<%= config.bin %> env-packs remove --answers remove.yaml",
  ];
  static override answersKey = "env-packs remove";
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
    const r = await ops.envPacksRemove(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Removed: ${r.binding.slot} = ${r.binding.kind} (binding generation ${r.binding.generation}, environment generation ${r.generation}).`,
    );
  }
}
