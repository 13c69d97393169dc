import { OpCommand } from "../../lib/base.js";
import { envArg, listFlags } from "../../lib/args.js";

export default class SecretsList extends OpCommand<typeof SecretsList> {
  static override summary = "List the secret names of an environment (never the values).";
  static override examples = ["<%= config.bin %> secrets list local"];
  static override args = { env: envArg };
  static override flags = { ...listFlags };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.secretsList(ctx, this.env);
    await this.list(r, r.names, [{ key: "name", header: "name", get: (n) => n }], "No secrets.");
  }
}
