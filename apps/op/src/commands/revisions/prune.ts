import * as Flags from "@oclif/core/flags";
import { deploymentFlag, optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag } from "../../lib/mutating.js";

export default class RevisionsPrune extends MutatingCommand<typeof RevisionsPrune> {
  static override summary = "Archive old revisions: keep the newest N of each deployment, stop the rest.";
  static override description =
    `Ready revisions are drained first; archiving stops their processes and removes their staged files. A revision that a traffic split routes to (in the store or in the live router), the one \`op traffic rollback\` would return to, or one being warmed is never pruned. N defaults to the environment's retention.keep_revisions, else 3. \`op deploy\` prunes by itself when the environment sets retention.keep_revisions.`;
  static override examples = [
    "<%= config.bin %> revisions prune local",
    "<%= config.bin %> revisions prune local --keep 1",
    "<%= config.bin %> revisions prune --answers prune.yaml",
  ];
  static override answersKey = "revisions prune";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    keep: Flags.integer({ description: "Newest revisions to keep per deployment (keep).", min: 1, helpValue: "N" }),
    deployment: deploymentFlag("Only this deployment: its id, a unique id prefix or its bundle id."),
    ...idempotencyFlag,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsPrune(ctx, payload, this.mutationOptions());
    this.done(r, () => {
      const lines = [
        r.pruned.length === 0
          ? `Nothing to prune in ${r.environment_id} (keeping ${r.keep} per deployment).`
          : `Archived ${r.pruned.length} revision(s) in ${r.environment_id}, keeping ${r.keep} per deployment:`,
        ...r.pruned.map((p) => `  ${p.revision_id}  (was ${p.from}, deployment ${p.deployment_id})`),
      ];
      const why = {
        traffic: "carries traffic",
        "rollback-stash": "op traffic rollback returns to it",
        "in-progress": "being warmed",
      };
      for (const k of r.protected) lines.push(`Kept ${k.revision_id}: ${why[k.reason]}.`);
      return lines.join("\n");
    });
  }
}
