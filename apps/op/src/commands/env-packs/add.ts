import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class EnvPacksAdd extends MutatingCommand<typeof EnvPacksAdd> {
  static override summary = "Bind an env-pack to a free slot of an environment.";
  static override description =
    "The descriptor must resolve in the registry for that slot (built-ins or a plugin named in GREENTIC_ENV_PACK_PLUGINS). A slot that is already bound is refused with exit 3: use `op env-packs update`.";
  static override examples = [
    "<%= config.bin %> env-packs add staging --slot deployer --kind greentic.deployer.local-process@0.1.0",
    "<%= config.bin %> env-packs add --answers pack.yaml",
  ];
  static override answersKey = "env-packs add";
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
    const r = await ops.envPacksAdd(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Bound: ${r.binding.slot} = ${r.binding.kind} (binding generation ${r.binding.generation}, environment generation ${r.generation}).`,
    );
  }
}
