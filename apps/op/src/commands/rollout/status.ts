import * as Flags from "@oclif/core/flags";
import { envArg } from "../../lib/args.js";
import { OpCommand } from "../../lib/base.js";
import { envFirst, renderRollout, rolloutArg } from "../../lib/rollout.js";

export default class RolloutStatus extends OpCommand<typeof RolloutStatus> {
  static override summary = "Show a rollout: status, step, weights, and the candidate's observed figures.";
  static override description =
    "Without ROLLOUT it shows the environment's newest rollout. The record survives reboots; the observed figures (requests, 5xx share, p99 and readiness since the current step went live) are read from the proxy now. --all lists every rollout of the environment, newest first.";
  static override usage = "<%= command.id %> [ENV] [ROLLOUT] [--all]";
  static override examples = [
    "<%= config.bin %> rollout status prod",
    "<%= config.bin %> rollout status prod 01JB7Z9X1A2B3C4D5E6F7G8H9J --json",
    "<%= config.bin %> rollout status prod --all",
  ];
  static override args = { env: envArg, rollout: rolloutArg };
  static override flags = {
    all: Flags.boolean({ description: "Every rollout of the environment, newest first." }),
  };

  protected override envGiven(positionals: readonly string[]): boolean {
    return envFirst(positionals);
  }

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    if (this.flags.all) {
      const all = await ops.listRollouts(ctx, this.env);
      this.done({ rollouts: all }, () =>
        all.length === 0 ? "No rollouts.\n" : all.map((r) => renderRollout(r)).join("\n"),
      );
      return;
    }
    const s = await ops.rolloutStatus(ctx, this.env, this.args.rollout);
    this.done(s, () => renderRollout(s.rollout, s));
  }
}
