import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { table } from "../../lib/render.js";

export default class CredentialsRequirements extends OpCommand<typeof CredentialsRequirements> {
  static override summary = "List what the environment's deployer needs to operate (credentials, access).";
  static override examples = ["<%= config.bin %> credentials requirements local"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.credentialsRequirements(ctx, this.env);
    this.done(
      r,
      () =>
        `Deployer ${r.deployer_kind}:\n` +
        table(
          r.requirements,
          [
            { header: "name", get: (q) => q.name },
            { header: "material", get: (q) => (q.material ? "yes" : "no") },
            { header: "description", get: (q) => q.description },
          ],
          "No credentials needed.",
        ),
    );
  }
}
