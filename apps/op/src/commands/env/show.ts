import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { envShowText } from "../../lib/render-env.js";

export default class EnvShow extends OpCommand<typeof EnvShow> {
  static override summary = "Show an environment: host config, bindings, bundles, revisions, traffic.";
  static override description =
    "The JSON result is {environment, runtime, etag, generation}; pass the etag to --if-match (or the generation to --expected-generation) of a later mutation to make it conditional.";
  static override examples = ["<%= config.bin %> env show local", "<%= config.bin %> env show local --json"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const shown = await ops.envShow(ctx, this.env);
    this.done(shown, () => envShowText(shown));
  }
}
