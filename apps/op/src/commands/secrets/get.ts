import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";

export default class SecretsGet extends OpCommand<typeof SecretsGet> {
  static override summary = "Print a secret's value (needs --reveal).";
  static override examples = ["<%= config.bin %> secrets get local db/password --reveal"];
  static override args = { env: envArg, name: Args.string({ description: "Secret name.", required: true }) };
  static override flags = { reveal: Flags.boolean({ description: "Really print the value." }) };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.secretsGet(ctx, this.env, this.args.name, { reveal: this.flags.reveal });
    this.done(r, r.value);
  }
}
