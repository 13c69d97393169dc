import { OpCommand } from "../../lib/base.js";
import { table } from "../../lib/render.js";

export default class EnvList extends OpCommand<typeof EnvList> {
  static override summary = "List the environments in the store.";
  static override examples = ["<%= config.bin %> env list", "<%= config.bin %> env list --json", "<%= config.bin %> env list --store-root /srv/greentic"];

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const environments = await ops.envList(ctx);
    this.done({ environments }, () =>
      table(
        environments,
        [
          { header: "id", get: (e) => e.environment_id },
          { header: "name", get: (e) => e.name },
          { header: "generation", get: (e) => e.generation, right: true },
          { header: "status", get: (e) => (e.status === "ok" ? "ok" : `${e.status}: ${e.problem ?? ""}`) },
        ],
        "No environments yet. Create the local one with: op env init",
      ),
    );
  }
}
