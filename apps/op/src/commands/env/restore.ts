import * as Args from "@oclif/core/args";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { preconditionFlags } from "../../lib/mutating.js";

export default class EnvRestore extends OpCommand<typeof EnvRestore> {
  static override summary = "Bring a backup back as the environment's next generation.";
  static override description =
    "The precondition is required: pin the state you are replacing with --if-match or --expected-generation (from `op env show`). A stale pin is refused with exit 3.";
  static override examples = [
    "<%= config.bin %> env restore local 20250101T000000Z-environment.json --expected-generation 7",
  ];
  static override args = {
    env: envArg,
    backup: Args.string({ description: "Backup id (from `op env backups`).", required: true }),
  };
  static override flags = { ...preconditionFlags };

  override async run(): Promise<void> {
    const pre: { if_match?: string; expected_generation?: number } = {};
    if (this.flags["if-match"] !== undefined) pre.if_match = this.flags["if-match"];
    if (this.flags["expected-generation"] !== undefined) pre.expected_generation = this.flags["expected-generation"];
    if (Object.keys(pre).length === 0)
      this.usage("restore needs --if-match or --expected-generation", `read them with: op env show ${this.env}`);
    const { ops, ctx } = await this.ops();
    const r = await ops.envRestore(ctx, this.env, this.args.backup, pre);
    this.done(r, `Restored ${r.file} from ${r.restored} (generation ${r.generation}).`);
  }
}
