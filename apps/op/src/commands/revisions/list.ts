import { OpCommand } from "../../lib/base.js";
import { deploymentFlag, envArg, listFlags } from "../../lib/args.js";
import { percent } from "../../lib/render.js";

export default class RevisionsList extends OpCommand<typeof RevisionsList> {
  static override summary = "List the revisions of an environment (optionally of one deployment).";
  static override description =
    "Columns: revision, version (@N, usable as a reference), tags (usable as references), bundle, traffic, lifecycle, live (running, down or stopped, from the deployer), url; also deployment, created, digest with --columns.";
  static override examples = [
    "<%= config.bin %> revisions list",
    "<%= config.bin %> revisions list local --deployment hello --json",
    "<%= config.bin %> revisions list --filter lifecycle=ready --sort -version --columns version,traffic,url",
    "<%= config.bin %> revisions list --output csv --no-header",
  ];
  static override args = { env: envArg };
  static override flags = {
    deployment: deploymentFlag("Only this deployment's revisions: its id, a unique id prefix or its bundle id."),
    ...listFlags,
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsList(ctx, this.env, { deploymentId: this.flags.deployment, label: "--deployment" });
    await this.list(
      r,
      r.revisions,
      [
        { key: "revision", header: "revision", get: (v) => v.revision_id },
        { key: "version", header: "version", get: (v) => `@${v.sequence}`, right: true },
        { key: "tags", header: "tags", get: (v) => (v.tags ?? []).join(",") },
        { key: "bundle", header: "bundle", get: (v) => v.bundle_id },
        { key: "traffic", header: "traffic", get: (v) => percent(r.traffic_bps[v.revision_id] ?? 0), right: true },
        { key: "lifecycle", header: "lifecycle", get: (v) => v.lifecycle },
        { key: "live", header: "live", get: (v) => r.live[v.revision_id] },
        { key: "url", header: "url", get: (v) => r.urls[v.revision_id] },
        { key: "deployment", header: "deployment", get: (v) => v.deployment_id, extra: true },
        { key: "created", header: "created", get: (v) => v.created_at, extra: true },
        { key: "digest", header: "digest", get: (v) => v.bundle_digest, extra: true },
      ],
      "No revisions yet. Stage one with: op revisions stage (or op deploy)",
    );
  }
}
