import { Args } from "@oclif/core";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class RevisionsArchive extends MutatingCommand<typeof RevisionsArchive> {
  static override summary = "Stop a revision for good and release its runtime resources.";
  static override description =
    "The record stays (revisions are immutable); its staged files are removed. Refused (exit 3) while traffic routes to it.";
  static override examples = ["<%= config.bin %> revisions archive local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V"];
  static override answersKey = "revisions archive";
  static override args = { env: optionalEnvArg, revision: Args.string({ description: "Revision id (revision_id)." }) };
  static override flags = { ...answersFlags, ...idempotencyFlag, ...preconditionFlags };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload({
      environment_id: this.args.env,
      revision_id: this.args.revision,
      idempotency_key: this.flags["idempotency-key"],
    });
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsArchive(ctx, payload, this.mutationOptions());
    this.done(r, `Revision ${r.revision.revision_id} is ${r.revision.lifecycle}.`);
  }
}
