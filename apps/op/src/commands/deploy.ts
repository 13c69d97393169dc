import * as Flags from "@oclif/core/flags";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../lib/mutating.js";

export default class Deploy extends MutatingCommand<typeof Deploy> {
  static override noun = "deploy";
  static override verb = "run";
  static override summary = "Deploy a bundle in one step: add (if new), stage, warm, then 100% of the traffic.";
  static override description =
    `On redeploy this is blue-green: the new revision takes all the traffic only after its health gate passes, and the old one stays ready so that \`op traffic rollback\` returns to it. With --idempotency-key every step can be retried safely.

Prints the environment's URL (it follows the traffic split) and the URL where the new revision itself answers.`;
  static override examples = [
    {
      description: "Deploy a bundle to the local environment",
      command: "<%= config.bin %> deploy --bundle hello.gtbundle",
    },
    {
      description: "To another environment, for a customer",
      command:
        "<%= config.bin %> deploy --bundle shop.gtbundle --env staging --customer-id acme --idempotency-key shop-42",
    },
    { description: "The canonical form", command: "<%= config.bin %> deploy --answers deploy.yaml" },
  ];
  static override answersKey = "deploy run";
  static override flags = {
    ...answersFlags,
    bundle: Flags.string({ char: "b", description: "The .gtbundle file (bundle_path).", helpValue: "FILE" }),
    env: Flags.string({ char: "e", description: "Environment id (environment_id, default local).", helpValue: "ENV" }),
    "bundle-id": Flags.string({
      description: "Bundle id (bundle_id): the manifest names it; when given it must match (exit 2 otherwise).",
    }),
    "new-deployment": Flags.boolean({
      description:
        "Allow adding a second deployment to an environment that already serves one (new_deployment); give each a route binding.",
    }),
    "customer-id": Flags.string({ description: "Customer id (customer_id; required outside local)." }),
    host: Flags.string({ description: "Route host; repeatable.", multiple: true }),
    "path-prefix": Flags.string({ description: "Route path prefix; repeatable.", multiple: true }),
    traffic: Flags.string({
      description:
        "Share of the traffic the new revision takes once ready (traffic_bps): N or N% (percent, up to two decimals) or Nbps. Default 100%; below it the rest stays on the current revision (a canary).",
      helpValue: "WEIGHT",
    }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const f = this.flags;
    const route =
      f.host || f["path-prefix"] ? { hosts: f.host ?? [], path_prefixes: f["path-prefix"] ?? [] } : undefined;
    let trafficBps: number | undefined;
    if (f.traffic !== undefined) {
      const { GreenticError, parseWeight } = await import("@greentic/deploy-spec");
      try {
        trafficBps = parseWeight(f.traffic);
      } catch (error) {
        throw new GreenticError("invalid-argument", `--traffic ${f.traffic}: ${(error as Error).message}`, {
          path: "traffic_bps",
          hint: "give N or N% (percent, e.g. 1 or 0.5%) or Nbps (basis points, e.g. 100bps), above 0 and at most 100%",
        });
      }
      if (trafficBps === 0)
        throw new GreenticError("invalid-argument", `--traffic ${f.traffic}: the new revision must take some traffic`, {
          path: "traffic_bps",
          hint: "give a share above 0, e.g. --traffic 1",
        });
    }
    const payload = await this.payload({
      traffic_bps: trafficBps,
      new_deployment: f["new-deployment"] ? true : undefined,
      route_binding: route,
    });
    this.progress(`Deploying ${payload.bundle_path} to ${payload.environment_id ?? "local"}`);
    const { ops, ctx } = await this.ops();
    const r = await ops.deploy(ctx, payload, this.mutationOptions());
    this.done(r, () => {
      const lines = [
        r.reused_revision
          ? `Revision ${r.revision_id} already held this bundle; it serves ${r.bundle_id} again (deployment ${r.deployment_id}) in ${r.environment_id}.`
          : `Deployed ${r.bundle_id} as revision ${r.revision_id} (deployment ${r.deployment_id}${r.created_deployment ? ", new" : ""}) in ${r.environment_id}.`,
      ];
      if (r.traffic_bps < 10_000)
        lines.push(
          `Revision ${r.revision_id} takes ${r.traffic_bps / 100}% of the traffic; op traffic show ${r.environment_id}`,
        );
      if (r.previous_revision_id)
        lines.push(
          `Previous revision ${r.previous_revision_id} stays ready: op traffic rollback ${r.environment_id} --deployment ${r.deployment_id}`,
        );
      if (r.pruned_revisions?.length)
        lines.push(
          `Retention policy archived ${r.pruned_revisions.length} older revision(s): ${r.pruned_revisions.join(", ")}`,
        );
      if (r.environment_url) lines.push(`Environment URL (follows the traffic split): ${r.environment_url}`);
      if (r.environment_url_curl)
        lines.push(
          `  The deployment's route binding does not claim the bare URL (it answers 404); reach it with: ${r.environment_url_curl}`,
        );
      if (r.url) lines.push(`Revision URL: ${r.url}`);
      return lines.join("\n");
    });
  }
}
