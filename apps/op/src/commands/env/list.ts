import { OpCommand } from "../../lib/base.js";
import { listFlags } from "../../lib/args.js";
import { ENV_LIST_COLUMNS, ENV_LIST_EMPTY } from "../../lib/render-env.js";

export default class EnvList extends OpCommand<typeof EnvList> {
  static override summary = "List the environments in the store, with the live health of each.";
  static override description =
    "health is what runs, judged as `op status` does: healthy when every revision with traffic runs and answers /ready, the router serves and it serves the stored split; unhealthy otherwise (the problems are in --json and in `op status`); unknown when the environment cannot be loaded.";
  static override examples = [
    "<%= config.bin %> env list",
    "<%= config.bin %> env list --json",
    "<%= config.bin %> env list --store-root /srv/greentic",
    "<%= config.bin %> env list --columns id,generation --output csv",
  ];
  static override flags = { ...listFlags };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const environments = await ops.envList(ctx, { live: true });
    await this.list({ environments }, environments, ENV_LIST_COLUMNS, ENV_LIST_EMPTY);
  }
}
