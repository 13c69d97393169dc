import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class ConfigSet extends MutatingCommand<typeof ConfigSet> {
  static override summary = "Set an environment's name and host-configuration fields.";
  static override examples = [
    "<%= config.bin %> config set local --public-url http://127.0.0.1:8080",
    "<%= config.bin %> config set --answers config.yaml --if-match <etag>",
  ];
  static override answersKey = "config set";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    name: Flags.string({ description: "Display name (name)." }),
    region: Flags.string({ description: "Region (region)." }),
    "tenant-org": Flags.string({ description: "Tenant organisation id (tenant_org_id)." }),
    "listen-addr": Flags.string({
      description:
        "Listen address host:port (listen_addr), kept for the reference implementation; the local router listens on router_listen of the deployer's answers.",
    }),
    "public-url": Flags.string({ description: "Public base URL (public_base_url).", helpValue: "URL" }),
    gui: Flags.boolean({ description: "Enable the GUI (gui_enabled).", allowNo: true }),
    "keep-revisions": Flags.integer({
      description: "Retention: revisions per deployment that op deploy keeps, pruning older ones (keep_revisions).",
      min: 1,
      helpValue: "N",
    }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.configSet(ctx, payload, this.mutationOptions());
    this.done(
      r,
      r.changed.length === 0
        ? `Environment ${r.environment_id}: nothing changed.`
        : `Set ${r.changed.join(", ")} on ${r.environment_id} (generation ${r.generation}).`,
    );
  }
}
