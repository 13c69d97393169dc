import { OpCommand } from "../../lib/base.js";
import { deploymentFlag, envArg, requiredRevisionArg } from "../../lib/args.js";
import { fields, percent } from "../../lib/render.js";

export default class RevisionsShow extends OpCommand<typeof RevisionsShow> {
  static override summary = "Show a revision: its record, the traffic it takes and what the deployer runs.";
  static override usage = "<%= command.id %> [ENV] REV [--deployment DEPLOYMENT]";
  static override examples = [
    "<%= config.bin %> revisions show local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V",
    "<%= config.bin %> revisions show latest",
    "<%= config.bin %> revisions show local @2 --deployment hello",
    "<%= config.bin %> revisions show canary",
  ];
  static override flags = {
    deployment: deploymentFlag(
      "Deployment of @N, latest, previous and stable: its id, a unique id prefix or its bundle id.",
    ),
  };
  static override args = { env: envArg, revision: requiredRevisionArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsShow(ctx, this.env, this.args.revision, {
      deployment: this.flags.deployment,
      label: "REV",
      deploymentLabel: "--deployment",
    });
    this.done(r, () => {
      const v = r.revision;
      const rt = r.runtime as Record<string, unknown> | null;
      return fields([
        ["revision", v.revision_id],
        ["bundle", v.bundle_id],
        ["deployment", v.deployment_id],
        ["sequence", v.sequence],
        ["tags", (v.tags ?? []).join(", ") || undefined],
        ["lifecycle", v.lifecycle],
        ["digest", v.bundle_digest],
        ["created", v.created_at],
        ["warmed", v.warmed_at],
        ["traffic", r.traffic.map((t) => `${percent(t.weight_bps)} of ${t.deployment_id}`).join(", ") || "none"],
        ["url", rt?.url],
        [
          "runtime",
          rt
            ? Object.entries(rt)
                .filter(([k]) => k !== "url" && k !== "revision_id")
                .map(([k, x]) => `${k}=${typeof x === "object" ? JSON.stringify(x) : x}`)
                .join(" ")
            : "not running",
        ],
      ]);
    });
  }
}
