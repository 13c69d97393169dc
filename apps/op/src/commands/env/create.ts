import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag } from "../../lib/mutating.js";

export default class EnvCreate extends MutatingCommand<typeof EnvCreate> {
  static override summary = "Create an environment with no env-pack bindings.";
  static override description =
    "Refused with exit 3 when the environment exists. Bind packs afterwards with `op env-packs add`, or use `op env init` for the local defaults.";
  static override examples = [
    "<%= config.bin %> env create staging --name Staging --region eu-west",
    "<%= config.bin %> env create --answers env.yaml",
  ];
  static override answersKey = "env create";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    name: Flags.string({ description: "Display name (name); defaults to the id." }),
    region: Flags.string({ description: "Region label (region)." }),
    "tenant-org": Flags.string({ description: "Tenant organisation id (tenant_org_id)." }),
    "listen-addr": Flags.string({ description: "Listen address host:port (listen_addr)." }),
    "public-url": Flags.string({ description: "Public base URL (public_base_url).", helpValue: "URL" }),
    ...idempotencyFlag,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const _f = this.flags;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.envCreate(ctx, payload, this.mutationOptions());
    this.done(r, `Created environment ${r.environment_id} (generation ${r.generation}).`);
  }
}
