import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { preconditionFlags } from "../../lib/mutating.js";

export default class EnvDestroy extends OpCommand<typeof EnvDestroy> {
  static override summary = "Stop every revision of an environment and remove it from the store.";
  static override description =
    "The environment's history (audit log, backups) is kept aside, never deleted; its secrets are removed unless --keep-secrets. Needs --confirm.";
  static override examples = [
    "<%= config.bin %> env destroy local --confirm",
    "<%= config.bin %> env destroy staging --confirm --if-match <etag>",
  ];
  static override args = { env: envArg };
  static override flags = {
    confirm: Flags.boolean({ description: "Confirm the destruction (required)." }),
    "keep-secrets": Flags.boolean({
      description: "Keep the secrets the environment holds (by default its secrets env-pack removes them).",
    }),
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (!this.flags.confirm)
      this.usage(
        `destroying environment ${this.env} needs --confirm`,
        `re-run as: op env destroy ${this.env} --confirm`,
      );
    const pre: { if_match?: string; expected_generation?: number } = {};
    if (this.flags["if-match"] !== undefined) pre.if_match = this.flags["if-match"];
    if (this.flags["expected-generation"] !== undefined) pre.expected_generation = this.flags["expected-generation"];
    const { ops, ctx } = await this.ops();
    this.progress(`Destroying environment ${this.env}...`);
    const r = await ops.envDestroy(ctx, this.env, {
      confirm: true,
      keep_secrets: this.flags["keep-secrets"],
      ...(Object.keys(pre).length > 0 ? { precondition: pre } : {}),
    });
    this.done(r, `Destroyed environment ${r.environment_id} (stopped ${r.stopped_revisions.length} revision(s)).`);
  }
}
