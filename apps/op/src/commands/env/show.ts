import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { fields, percent } from "../../lib/render.js";

export default class EnvShow extends OpCommand<typeof EnvShow> {
  static override summary = "Show an environment: host config, bindings, bundles, revisions, traffic.";
  static override description = "The JSON result is {environment, runtime, etag, generation}; pass the etag to --if-match (or the generation to --expected-generation) of a later mutation to make it conditional.";
  static override examples = ["<%= config.bin %> env show local", "<%= config.bin %> env show local --json"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const shown = await ops.envShow(ctx, this.args.env);
    this.done(shown, () => {
      const env = shown.environment;
      const host = env.host_config as Record<string, unknown>;
      let out = fields([
        ["environment", env.environment_id],
        ["name", env.name],
        ["generation", shown.generation],
        ["etag", shown.etag],
        ["listen_addr", host.listen_addr],
        ["public_base_url", host.public_base_url],
        ["packs", env.packs.map((p) => `${p.slot}=${p.kind}`).join(" ")],
        ["bundles", env.bundles.length],
        ["revisions", env.revisions.length],
        ["health", env.health.state],
      ]);
      for (const split of env.traffic_splits) {
        out += `traffic ${split.bundle_id} (${split.deployment_id}): ${split.entries.map((e) => `${e.revision_id}=${percent(e.weight_bps)}`).join(" ")}\n`;
      }
      return out;
    });
  }
}
