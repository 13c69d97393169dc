import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";

export default class CredentialsValidate extends OpCommand<typeof CredentialsValidate> {
  static override summary = "Check that the environment's deployer has what it needs here (exit 1 when not).";
  static override examples = ["<%= config.bin %> credentials validate local"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.credentialsValidate(ctx, this.env);
    const v = r.validation;
    this.done(
      r,
      `Deployer ${r.deployer_kind}: ${v.result}${v.missing_capabilities.length > 0 ? ` (missing: ${v.missing_capabilities.join(", ")})` : ""}.`,
    );
    this.exitStatus({ failed: v.result !== "pass" });
  }
}
