import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class EnvPacksUpdate extends MutatingCommand<typeof EnvPacksUpdate> {
  static override summary = "Replace the env-pack bound to a slot (the previous binding is kept for rollback).";
  static override description = "Bumps the binding generation; `op env-packs rollback` restores the previous binding.";
  static override examples = [
    "<%= config.bin %> env-packs update local --slot telemetry --kind greentic.telemetry.stdout@0.1.0",
    "<%= config.bin %> env-packs update --answers pack.yaml --expected-generation 3",
  ];
  static override answersKey = "env-packs update";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    slot: Flags.string({ description: "Capability slot (slot), e.g. deployer, secrets, telemetry, sessions, state." }),
    kind: Flags.string({
      description: "Pack descriptor (kind), e.g. greentic.deployer.local-process@0.1.0.",
      helpValue: "DESCRIPTOR",
    }),
    "pack-ref": Flags.string({ description: "Pack reference (pack_ref); defaults to the kind." }),
    "answers-ref": Flags.string({ description: "Reference to the pack's answers (answers_ref)." }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.envPacksUpdate(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Updated: ${r.binding.slot} = ${r.binding.kind} (binding generation ${r.binding.generation}, environment generation ${r.generation}).`,
    );
  }
}
