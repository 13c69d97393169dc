import * as Flags from "@oclif/core/flags";
import { deploymentFlag } from "../../lib/args.js";
import { MutatingCommand, answersFlags, preconditionFlags, type PayloadRef } from "../../lib/mutating.js";
import { percent, table } from "../../lib/render.js";

export default class TrafficSet extends MutatingCommand<typeof TrafficSet> {
  static override summary = "Split a deployment's traffic between revisions.";
  static override description =
    `Weights are percent (N or N%, up to two decimals) or basis points (Nbps) and must add up to exactly 100% (10000 bps). Only warmed (ready) revisions can take traffic. The idempotency key is required: a retry with the same key and entries is a no-op, the same key with other entries is refused (exit 3).

--deployment may be left out when the environment has one deployment or the revisions name it.

ENV is optional (default $GREENTIC_ENV, else local). Each REV=WEIGHT names a revision by its id, a unique prefix of 6 or more characters, @N (sequence number), latest, previous, stable (the one holding the most traffic now) or a tag (\`op revisions tag\`); WEIGHT is N or N% (percent) or Nbps.

The answers file is the canonical input; the positional form is a shortcut that builds the same payload.`;
  static override usage = "<%= command.id %> [ENV] REV=WEIGHT... --idempotency-key KEY [--deployment DEPLOYMENT]";
  static override examples = [
    {
      description: "Send everything to one revision",
      command:
        "<%= config.bin %> traffic set local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V=100 --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --idempotency-key cutover-1",
    },
    {
      description: "Canary: 10% to the newest revision, 90% to the one serving most now",
      command: "<%= config.bin %> traffic set latest=10 stable=90 --idempotency-key canary-1",
    },
    {
      description: "By sequence number, in one deployment of several",
      command: "<%= config.bin %> traffic set local @1=90 @2=10 --deployment hello --idempotency-key canary-2",
    },
    {
      description: "By tag (see `op revisions tag`)",
      command: "<%= config.bin %> traffic set canary=10 stable=90 --idempotency-key canary-3",
    },
    { description: "The canonical form, from a file", command: "<%= config.bin %> traffic set --answers traffic.yaml" },
    { description: "Print the payload's JSON Schema", command: "<%= config.bin %> traffic set --schema" },
  ];
  static override answersKey = "traffic set";
  static override strict = false;
  // ENV and the entries are read from the positionals in run(): oclif would show a variadic
  // positional as [ENV...], as if the environment repeated.
  static override args = {};
  static override flags = {
    ...answersFlags,
    deployment: deploymentFlag(),
    "idempotency-key": Flags.string({
      description: "Required retry key: the same key with the same entries is a no-op.",
      helpValue: "KEY",
    }),
    "updated-by": Flags.string({ description: "Who made the change (default operator).", helpValue: "NAME" }),
    ...preconditionFlags,
  };

  /** The entries typed on the command line, `REV=WEIGHT #n`, resolved before validation. */
  private typed: { label: string; index: number }[] = [];

  protected override payloadRefs(input: Record<string, unknown>): PayloadRef[] {
    const entries = input.entries as { revision_id: string }[] | undefined;
    return this.typed.map(({ label, index }) => {
      const entry = entries![index]!;
      return { label, value: entry.revision_id, set: (id) => (entry.revision_id = id) };
    });
  }

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const first = this.positionals[0];
    const envGiven = first !== undefined && !first.includes("=");
    (this.args as Record<string, unknown>).env = envGiven ? first : undefined;
    const pairs = envGiven ? this.positionals.slice(1) : this.positionals;
    let entries: Record<string, unknown>[] | undefined;
    if (pairs.length > 0) {
      const { parseTrafficEntry } = await import("@greentic/deploy-spec");
      entries = pairs.map((p, index) => {
        const { revision_id, weight_bps } = parseTrafficEntry(p);
        this.typed.push({ label: `entry ${JSON.stringify(p)}`, index });
        // Kept in the unit it was typed in, so that messages about the sum use it too.
        return /bps\s*$/.test(p) ? { revision_id, weight_bps } : { revision_id, weight_percent: weight_bps / 100 };
      });
    }
    const payload = await this.payload({ entries });
    const { ops, ctx } = await this.ops();
    const result = await ops.trafficSet(ctx, payload, this.mutationOptions());
    this.done(result, () => {
      const split = result.split;
      const head = `${result.replayed || result.idempotency === "replayed" ? "Replayed" : "Set"} traffic for deployment ${split.deployment_id} in ${split.env_id} (split generation ${split.generation}, environment generation ${result.generation}):\n`;
      return (
        head +
        table(split.entries, [
          { header: "revision", get: (e) => e.revision_id },
          { header: "weight", get: (e) => percent(e.weight_bps), right: true },
          { header: "bps", get: (e) => e.weight_bps, right: true },
        ])
      );
    });
  }
}
