import { Flags } from "@oclif/core";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { table } from "../../lib/render.js";

export default class RevisionsList extends OpCommand<typeof RevisionsList> {
  static override summary = "List the revisions of an environment (optionally of one deployment).";
  static override examples = [
    "<%= config.bin %> revisions list local",
    "<%= config.bin %> revisions list local --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --json",
  ];
  static override args = { env: envArg };
  static override flags = {
    deployment: Flags.string({ char: "d", description: "Only this deployment's revisions.", helpValue: "ID" }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsList(ctx, this.args.env, { deploymentId: this.flags.deployment });
    this.done(r, () => {
      return table(
        r.revisions,
        [
          { header: "revision", get: (v) => v.revision_id },
          { header: "bundle", get: (v) => v.bundle_id },
          { header: "seq", get: (v) => v.sequence, right: true },
          { header: "lifecycle", get: (v) => v.lifecycle },
          { header: "created", get: (v) => v.created_at },
          { header: "digest", get: (v) => v.bundle_digest.slice(0, 19) },
        ],
        "No revisions yet. Stage one with: op revisions stage (or op deploy)",
      );
    });
  }
}
