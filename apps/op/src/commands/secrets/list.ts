import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";

export default class SecretsList extends OpCommand<typeof SecretsList> {
  static override summary = "List the secret names of an environment (never the values).";
  static override examples = ["<%= config.bin %> secrets list local"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.secretsList(ctx, this.args.env);
    this.done(r, r.names.length === 0 ? "No secrets." : r.names.join("\n"));
  }
}
