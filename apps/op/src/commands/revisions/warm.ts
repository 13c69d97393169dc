import { optionalEnvArg, revisionArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class RevisionsWarm extends MutatingCommand<typeof RevisionsWarm> {
  static override summary = "Start a staged revision and wait for its health gate.";
  static override description =
    "The deployer starts the revision and makes real requests to its readiness endpoint. On success the revision is ready (and can take traffic); on failure it is marked failed and op exits 3 with the failed checks.";
  static override examples = [
    "<%= config.bin %> revisions warm local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V",
    "<%= config.bin %> revisions warm --answers warm.yaml",
  ];
  static override usage = "<%= command.id %> [ENV] REV [--idempotency-key KEY]";
  static override answersKey = "revisions warm";
  static override args = { env: optionalEnvArg, revision: revisionArg };
  static override flags = { ...answersFlags, ...idempotencyFlag, ...preconditionFlags };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    this.progress(`Warming revision ${payload.revision_id}...`);
    const r = await ops.revisionsWarm(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Revision ${r.revision.revision_id} is ${r.revision.lifecycle}${r.outcome === "already-ready" ? " (already was)" : ""}${r.url ? `; serving at ${r.url}` : ""}.`,
    );
  }
}
