import { envArg } from "../../lib/args.js";
import { OpCommand } from "../../lib/base.js";
import { envFirst, renderRollout, rolloutArg } from "../../lib/rollout.js";

export default class RolloutAbort extends OpCommand<typeof RolloutAbort> {
  static override summary = "Abort a rollout: all traffic goes back to the stable revision.";
  static override description =
    "Without ROLLOUT it acts on the environment's newest rollout. Idempotent: repeating it changes nothing (exit 0). A rollout that has finished cannot be abortd (exit 3).";
  static override usage = "<%= command.id %> [ENV] [ROLLOUT]";
  static override examples = [
    "<%= config.bin %> rollout abort prod",
    "<%= config.bin %> rollout abort prod 01JB7Z9X1A2B3C4D5E6F7G8H9J --json",
  ];
  static override args = { env: envArg, rollout: rolloutArg };

  protected override envGiven(positionals: readonly string[]): boolean {
    return envFirst(positionals);
  }

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.rolloutControl(ctx, this.env, this.args.rollout, "abort");
    this.done(r, () => `${r.changed ? "" : "Unchanged: "}${renderRollout(r.rollout)}`);
  }
}
