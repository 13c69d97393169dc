import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class BundlesAdd extends MutatingCommand<typeof BundlesAdd> {
  static override summary = "Add a bundle deployment (a bundle for a customer, with its routes) to an environment.";
  static override description =
    "One deployment per (bundle_id, customer_id). Outside the local environment the customer id is required. Revenue share defaults to 100% greentic.";
  static override examples = [
    "<%= config.bin %> bundles add local --bundle-id hello",
    "<%= config.bin %> bundles add staging --bundle-id shop --customer-id acme --host shop.example.com --path-prefix /",
    "<%= config.bin %> bundles add --answers bundle.yaml",
  ];
  static override answersKey = "bundles add";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    "bundle-id": Flags.string({ description: "Bundle id (bundle_id)." }),
    "customer-id": Flags.string({ description: "Customer id (customer_id)." }),
    host: Flags.string({ description: "Route host (route_binding.hosts); repeatable.", multiple: true }),
    "path-prefix": Flags.string({
      description: "Route path prefix (route_binding.path_prefixes); repeatable.",
      multiple: true,
    }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const f = this.flags;
    const route =
      f.host || f["path-prefix"] ? { hosts: f.host ?? [], path_prefixes: f["path-prefix"] ?? [] } : undefined;
    const payload = await this.payload({
      route_binding: route,
    });
    const { ops, ctx } = await this.ops();
    const r = await ops.bundlesAdd(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Added deployment ${r.deployment.deployment_id} of bundle ${r.deployment.bundle_id} for ${r.deployment.customer_id}.`,
    );
  }
}
