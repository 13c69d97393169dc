import { optionalEnvArg, revisionArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class RevisionsArchive extends MutatingCommand<typeof RevisionsArchive> {
  static override summary = "Stop a revision for good and release its runtime resources.";
  static override description =
    "The record stays (revisions are immutable); its staged files are removed. Refused (exit 3) while traffic routes to it.";
  static override examples = ["<%= config.bin %> revisions archive local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V"];
  static override usage = "<%= command.id %> [ENV] REV [--idempotency-key KEY]";
  static override answersKey = "revisions archive";
  static override args = { env: optionalEnvArg, revision: revisionArg };
  static override flags = { ...answersFlags, ...idempotencyFlag, ...preconditionFlags };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsArchive(ctx, payload, this.mutationOptions());
    this.done(r, `Revision ${r.revision.revision_id} is ${r.revision.lifecycle}.`);
  }
}
