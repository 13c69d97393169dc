import * as Flags from "@oclif/core/flags";
import { deploymentFlag, optionalEnvArg, revisionArg, tagArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class RevisionsTag extends MutatingCommand<typeof RevisionsTag> {
  static override summary = "Give a revision a tag, usable wherever a revision is named.";
  static override description =
    `A tag names one revision of a deployment: afterwards \`op traffic set canary=10 stable=90\`, \`op revisions show canary\` and the other verbs take it like an id. A tag another revision of the deployment has is refused (exit 3) unless --move takes it over. Remove one with \`op revisions untag\`.

ENV is optional (default $GREENTIC_ENV, else local).`;
  static override examples = [
    { description: "Tag the newest revision", command: "<%= config.bin %> revisions tag latest canary" },
    { description: "Move the tag to revision @3", command: "<%= config.bin %> revisions tag local @3 canary --move" },
    {
      description: "In one deployment of several",
      command: "<%= config.bin %> revisions tag @2 blue --deployment hello",
    },
    { description: "The canonical form, from a file", command: "<%= config.bin %> revisions tag --answers tag.yaml" },
  ];
  static override usage = "<%= command.id %> [ENV] REV TAG [--move] [--deployment DEPLOYMENT]";
  static override answersKey = "revisions tag";
  static override args = { env: optionalEnvArg, revision: revisionArg, tag: tagArg };
  static override flags = {
    ...answersFlags,
    deployment: deploymentFlag(
      "Deployment of @N, latest, previous and stable: its id, a unique id prefix or its bundle id.",
    ),
    move: Flags.boolean({ description: "Take the tag from the revision of the deployment that has it." }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    // An absent --move is no field at all, so an answers file's `move` is not contradicted.
    const payload = await this.payload({ move: this.flags.move === true ? true : undefined });
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsTag(ctx, payload, this.mutationOptions());
    const v = r.revision;
    this.done(
      r,
      r.outcome === "unchanged"
        ? `Revision ${v.revision_id} (@${v.sequence}) already has tag ${r.tag}.`
        : `Revision ${v.revision_id} (@${v.sequence}) is tagged ${r.tag}${r.moved_from === undefined ? "" : ` (moved from ${r.moved_from})`}.`,
    );
  }
}
