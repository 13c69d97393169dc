import { OpCommand } from "../../lib/base.js";
import { envListText } from "../../lib/render-env.js";

export default class EnvList extends OpCommand<typeof EnvList> {
  static override summary = "List the environments in the store.";
  static override examples = [
    "<%= config.bin %> env list",
    "<%= config.bin %> env list --json",
    "<%= config.bin %> env list --store-root /srv/greentic",
  ];

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const environments = await ops.envList(ctx);
    this.done({ environments }, () => envListText(environments));
  }
}
