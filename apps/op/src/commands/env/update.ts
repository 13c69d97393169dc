import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class EnvUpdate extends MutatingCommand<typeof EnvUpdate> {
  static override summary = "Update an environment's name and host configuration.";
  static override description =
    'Each field in the answers is {"value": v} to set it or {"clear": true} to remove it; absent fields are kept. The flags set values.';
  static override examples = [
    "<%= config.bin %> env update staging --region us-east --if-match <etag>",
    "<%= config.bin %> env update --answers update.yaml --expected-generation 4",
  ];
  static override answersKey = "env update";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    name: Flags.string({ description: "Set the display name." }),
    region: Flags.string({ description: "Set the region." }),
    "tenant-org": Flags.string({ description: "Set the tenant organisation id." }),
    "public-url": Flags.string({ description: "Set the public base URL.", helpValue: "URL" }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const f = this.flags;
    const set = (v: string | undefined) => (v === undefined ? undefined : { value: v });
    const payload = await this.payload({
      name: set(f.name),
      region: set(f.region),
      tenant_org_id: set(f["tenant-org"]),
      public_base_url: set(f["public-url"]),
    });
    const { ops, ctx } = await this.ops();
    const r = await ops.envUpdate(ctx, payload, this.mutationOptions());
    this.done(
      r,
      r.changed.length === 0
        ? `Environment ${r.environment_id}: nothing changed.`
        : `Updated environment ${r.environment_id}: ${r.changed.join(", ")} (generation ${r.generation}).`,
    );
  }
}
