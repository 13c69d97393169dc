import { optionalEnvArg, deploymentFlag, tagArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class RevisionsUntag extends MutatingCommand<typeof RevisionsUntag> {
  static override summary = "Remove a tag from the revision that has it.";
  static override description = `--deployment is needed only when revisions of several deployments have the tag.

ENV is optional (default $GREENTIC_ENV, else local).`;
  static override examples = [
    "<%= config.bin %> revisions untag canary",
    "<%= config.bin %> revisions untag local canary --deployment hello",
  ];
  static override usage = "<%= command.id %> [ENV] TAG [--deployment DEPLOYMENT]";
  static override answersKey = "revisions untag";
  static override args = { env: optionalEnvArg, tag: tagArg };
  static override flags = {
    ...answersFlags,
    deployment: deploymentFlag(
      "The deployment whose revision has the tag: its id, a unique id prefix or its bundle id.",
    ),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsUntag(ctx, payload, this.mutationOptions());
    this.done(r, `Revision ${r.revision.revision_id} (@${r.revision.sequence}) no longer has tag ${r.tag}.`);
  }
}
