import { Args, Flags } from "@oclif/core";
import { MutatingCommand, answersFlags, preconditionFlags } from "../../lib/mutating.js";
import { percent, table } from "../../lib/render.js";

export default class TrafficSet extends MutatingCommand<typeof TrafficSet> {
  static override summary = "Split a deployment's traffic between revisions.";
  static override description =
    `Weights are percent (N or N%, up to two decimals) or basis points (Nbps) and must add up to exactly 100% (10000 bps). Only warmed (ready) revisions can take traffic. The idempotency key is required: a retry with the same key and entries is a no-op, the same key with other entries is refused (exit 3).

The answers file is the canonical input; the positional form is a shortcut that builds the same payload.`;
  static override examples = [
    {
      description: "Send everything to one revision",
      command:
        "<%= config.bin %> traffic set local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V=100 --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --idempotency-key cutover-1",
    },
    {
      description: "Canary: 90% / 10%",
      command:
        "<%= config.bin %> traffic set local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V=90 01JB7Z9X1A2B3C4D5E6F7G8H9J=10 --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --idempotency-key canary-1",
    },
    { description: "The canonical form, from a file", command: "<%= config.bin %> traffic set --answers traffic.yaml" },
    { description: "Print the payload's JSON Schema", command: "<%= config.bin %> traffic set --schema" },
  ];
  static override answersKey = "traffic set";
  static override strict = false;
  static override args = {
    env: Args.string({ description: "Environment id (or environment_id in the answers)." }),
    entries: Args.string({
      description: "Weights as <revision_id>=<weight>, weight N or N% (percent) or Nbps; repeat for each revision.",
    }),
  };
  static override flags = {
    ...answersFlags,
    deployment: Flags.string({ char: "d", description: "Deployment id (deployment_id).", helpValue: "ID" }),
    "idempotency-key": Flags.string({ description: "Required retry key (idempotency_key).", helpValue: "KEY" }),
    "updated-by": Flags.string({ description: "Who made the change (default operator).", helpValue: "NAME" }),
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const pairs = this.positionals.slice(1);
    let entries: { revision_id: string; weight_bps: number }[] | undefined;
    if (pairs.length > 0) {
      const { parseTrafficEntry } = await import("@greentic/deploy-spec");
      entries = pairs.map((p) => parseTrafficEntry(p));
    }
    const payload = await this.payload({
      environment_id: this.args.env,
      deployment_id: this.flags.deployment,
      entries,
      idempotency_key: this.flags["idempotency-key"],
      updated_by: this.flags["updated-by"],
    });
    const { ops, ctx } = await this.ops();
    const result = await ops.trafficSet(ctx, payload, this.mutationOptions());
    this.done(result, () => {
      const split = result.split;
      const head = `${result.replayed || result.idempotency === "replayed" ? "Replayed" : "Set"} traffic for deployment ${split.deployment_id} in ${split.env_id} (generation ${result.generation}):\n`;
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
