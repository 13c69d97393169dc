import { optionalEnvArg, revisionArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class RevisionsDrain extends MutatingCommand<typeof RevisionsDrain> {
  static override summary = "Stop sending new requests to a revision and let in-flight ones finish.";
  static override description =
    "Refused (exit 3) while a traffic split still routes to the revision: move its traffic first with `op traffic set`.";
  static override examples = ["<%= config.bin %> revisions drain local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V"];
  static override usage = "<%= command.id %> [ENV] REV [--idempotency-key KEY]";
  static override answersKey = "revisions drain";
  static override args = { env: optionalEnvArg, revision: revisionArg };
  static override flags = { ...answersFlags, ...idempotencyFlag, ...preconditionFlags };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    this.progress(`Draining revision ${payload.revision_id}...`);
    const r = await ops.revisionsDrain(ctx, payload, this.mutationOptions());
    this.done(r, `Revision ${r.revision.revision_id} is ${r.revision.lifecycle}.`);
  }
}
