import { envArg } from "../../lib/args.js";
import { OpCommand } from "../../lib/base.js";
import { envFirst, renderRollout, rolloutArg } from "../../lib/rollout.js";

export default class RolloutPause extends OpCommand<typeof RolloutPause> {
  static override summary =
    "Pause a rollout: its split stays and no step is taken until resume (a breach still aborts it).";
  static override description =
    "Without ROLLOUT it acts on the environment's newest rollout. Idempotent: repeating it changes nothing (exit 0). A rollout that has finished cannot be paused (exit 3).";
  static override usage = "<%= command.id %> [ENV] [ROLLOUT]";
  static override examples = [
    "<%= config.bin %> rollout pause prod",
    "<%= config.bin %> rollout pause prod 01JB7Z9X1A2B3C4D5E6F7G8H9J --json",
  ];
  static override args = { env: envArg, rollout: rolloutArg };

  protected override envGiven(positionals: readonly string[]): boolean {
    return envFirst(positionals);
  }

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.rolloutControl(ctx, this.env, this.args.rollout, "pause");
    this.done(r, () => `${r.changed ? "" : "Unchanged: "}${renderRollout(r.rollout)}`);
  }
}
