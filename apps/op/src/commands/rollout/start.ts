import * as Flags from "@oclif/core/flags";
import { EX, envArg } from "../../lib/args.js";
import { OpCommand } from "../../lib/base.js";
import { opCommand, renderRollout, rolloutKeyFlag, waitForRollout } from "../../lib/rollout.js";

export default class RolloutStart extends OpCommand<typeof RolloutStart> {
  static override summary = "Start a progressive rollout: move traffic to a revision step by step, aborting on errors.";
  static override description =
    `Checks everything before anything changes: the steps (percent, increasing, ending at 100), the bake time, the error-rate and p99 limits, the candidate (a ready revision whose deployment has another revision taking traffic: the stable one), a deployer that measures per revision (single-VM canary), and that no other rollout of the environment is running or paused (exit 3, naming it). Then it records the rollout (audited), starts its runner as the systemd unit greentic-rollout-<ENV>.service on the VM and prints the rollout id at once. The runner survives a closed SSH session, a kill and a reboot: it resumes from the record.

At each step the runner sets the split (op traffic set, exact basis points), then checks the candidate every second from HAProxy's own figures: its 5xx share and p99 since the step went live, and its readiness (/ready over mTLS and the proxy's check). After the bake time it takes the next step. A breach (error rate or p99 over the limit with at least 20 requests, or 3 failed readiness checks in a row) marks the rollout failed with the figures (record and audit event) and sends all traffic back to the stable revision.

With --wait the command follows the rollout and exits 0 when it succeeds, 1 when it fails or is aborted. --foreground runs the rollout in this process instead of a unit (it then ends with the process).`;
  static override usage =
    "<%= command.id %> [ENV] --to REV [--steps LIST] [--interval DURATION] [--max-error-rate RATE] [--max-p99 DURATION] [--wait]";
  static override examples = [
    `<%= config.bin %> rollout start prod --to ${EX.revision2} --steps 1,5,25,50,100 --interval 2m --max-error-rate 1% --max-p99 800ms`,
    "<%= config.bin %> rollout start prod --to latest --steps 10,100 --interval 30s --max-error-rate 0.5% --wait",
  ];
  static override args = { env: envArg };
  static override flags = {
    to: Flags.string({
      description: "The candidate revision: its id, a unique prefix of 6 or more characters, @N, latest or previous.",
      required: true,
      helpValue: "REV",
    }),
    steps: Flags.string({
      description: "Candidate weight at each step, percent (up to two decimals), increasing, ending at 100.",
      default: "1,5,25,50,100",
      helpValue: "LIST",
    }),
    interval: Flags.string({
      description: "Bake time at each step: ms, s, m or h (e.g. 90s, 2m).",
      default: "2m",
      helpValue: "DURATION",
    }),
    "max-error-rate": Flags.string({
      description: "Highest 5xx share of the candidate's requests at a step: 1% or 0.01.",
      default: "1%",
      helpValue: "RATE",
    }),
    "max-p99": Flags.string({
      description: "Highest p99 of the candidate's requests at a step, e.g. 800ms.",
      helpValue: "DURATION",
    }),
    "idempotency-key": rolloutKeyFlag,
    wait: Flags.boolean({ description: "Follow the rollout with progress; exit 1 unless it succeeds." }),
    foreground: Flags.boolean({ description: "Run the rollout in this process instead of its systemd unit." }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const started = await ops.rolloutStart(
      ctx,
      {
        environment_id: this.env,
        to: this.flags.to,
        steps: this.flags.steps,
        interval: this.flags.interval,
        max_error_rate: this.flags["max-error-rate"],
        max_p99: this.flags["max-p99"],
        foreground: this.flags.foreground,
      },
      { idempotencyKey: this.flags["idempotency-key"] },
    );
    let record = started.rollout;
    let unit: string | null = null;
    if (this.flags.foreground) {
      record = await ops.rolloutRun(ctx, record.env_id, record.rollout_id);
    } else {
      const finished = record.status !== "running" && record.status !== "paused";
      if (!finished) {
        unit = (
          await ops.launchRolloutRunner(ctx, record, {
            op_command: opCommand(),
            store_root: this.storeRoot(),
            home: process.env.GREENTIC_HOME,
          })
        ).unit;
        this.progress(`Rollout ${record.rollout_id} started; its runner is ${unit}.`);
      }
      if (this.flags.wait) record = await waitForRollout(ops, ctx, record, (line) => this.progress(line));
    }
    this.done({ rollout: record, idempotency: started.idempotency, runner_unit: unit }, () => {
      const head =
        this.flags.wait || this.flags.foreground
          ? ""
          : `Rollout ${record.rollout_id} ${started.idempotency === "replayed" ? "(replayed) " : ""}recorded; follow it with: op rollout status ${record.env_id} ${record.rollout_id}\n`;
      return head + renderRollout(record);
    });
    if ((this.flags.wait || this.flags.foreground) && record.status !== "succeeded") this.exitStatus({ failed: true });
  }
}
