import * as Args from "@oclif/core/args";
import { envArg } from "../../lib/args.js";
import { OpCommand } from "../../lib/base.js";
import { renderRollout } from "../../lib/rollout.js";

export default class RolloutRun extends OpCommand<typeof RolloutRun> {
  static override summary = "Run a recorded rollout to its end (what its systemd unit executes).";
  static override description =
    "Resumes from the rollout's record: the current step's split is applied again with the same idempotency key, so a restart never leaves an unrecorded split, and a rollout that failed or was aborted before its traffic went back to the stable revision finishes that first. Exits 0 once the rollout has finished, whatever its outcome (its unit must not restart a finished rollout).";
  static override usage = "<%= command.id %> ENV ROLLOUT";
  static override examples = ["<%= config.bin %> rollout run prod 01JB7Z9X1A2B3C4D5E6F7G8H9J"];
  static override args = { env: envArg, rollout: Args.string({ description: "Rollout id.", required: true }) };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const { isGreenticError } = await import("@greentic/deploy-spec");
    try {
      const r = await ops.rolloutRun(ctx, this.env, this.args.rollout);
      this.done(r, () => renderRollout(r));
    } catch (error) {
      // The environment or the rollout is gone (destroyed): nothing to run, and its unit must
      // not restart for ever.
      if (!isGreenticError(error) || error.kind !== "not-found") throw error;
      this.done({ rollout: null, reason: error.message }, `Nothing to run: ${error.message}.\n`);
    }
  }
}
