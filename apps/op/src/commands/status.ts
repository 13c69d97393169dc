import * as Flags from "@oclif/core/flags";
import type { StatusResult } from "@greentic/operations";
import { envArg } from "../lib/args.js";
import { OpCommand } from "../lib/base.js";
import { fields, percent, table } from "../lib/render.js";

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/** `op status` in human form. */
export function statusText(r: StatusResult): string {
  let out = fields([
    ["environment", r.environment_id],
    ["url", r.environment_url ?? "none (no router serves)"],
    ...(r.router === null
      ? []
      : ([
          [
            "router",
            `${r.router.state}${r.router.pid === null ? "" : ` (pid ${r.router.pid})`}${r.router.restarts === null ? "" : `, restarted ${r.router.restarts} time(s)`}`,
          ],
        ] as [string, string][])),
    ["health", r.healthy ? "ok" : `${r.problems.length} problem(s)`],
    ["generation", r.generation],
  ]);
  for (const d of r.deployments) {
    const split = d.split.map((e) => `${e.revision_id}=${percent(e.weight_bps)}`).join(" ") || "no split";
    out += `\ndeployment ${d.deployment_id}  bundle ${d.bundle_id}  customer ${d.customer_id}\n  split: ${split}\n`;
  }
  out += `\n${table(
    r.revisions,
    [
      { header: "revision", get: (v) => v.revision_id },
      { header: "seq", get: (v) => v.sequence, right: true },
      { header: "lifecycle", get: (v) => v.lifecycle },
      { header: "live", get: (v) => v.live },
      { header: "traffic", get: (v) => percent(v.weight_bps), right: true },
      { header: "restarts", get: (v) => v.restarts, right: true },
      { header: "requests", get: (v) => v.requests ?? "-", right: true },
      { header: "errors", get: (v) => v.errors ?? "-", right: true },
      { header: "age", get: (v) => age(v.age_seconds), right: true },
    ],
    "No revisions. Deploy one with: op deploy --bundle FILE",
  )}`;
  if (r.problems.length > 0) out += `\nProblems:\n${r.problems.map((p) => `  - ${p}`).join("\n")}\n`;
  if (r.notes.length > 0) out += `\nNotes:\n${r.notes.map((n) => `  - ${n}`).join("\n")}\n`;
  if (r.audit.length > 0) {
    out += "\nLast changes:\n";
    for (const e of r.audit)
      out += `  ${e.ts}  ${e.noun} ${e.verb}  by ${e.actor.user ?? e.actor.kind}${e.result.outcome === "ok" ? "" : `  (${e.result.outcome})`}\n`;
  }
  return out;
}

export default class Status extends OpCommand<typeof Status> {
  static override noun = "status";
  static override verb = "show";
  static override summary = "The page to open first: URL, splits, each revision's live state, problems, last changes.";
  static override description =
    `Each revision shows its lifecycle (the store), its live state from its process and readiness check (running, not-ready, down, stopped), its share of the traffic, how often the supervisor restarted it, the requests the router sent it and the 5xx answers among them (since the router started; "-" when the deployer does not count them), and its age. Drift between the stored traffic split and what the router serves is listed as a problem until the router applies the stored split (within about a second; it watches the store) or a traffic command does. Exits 0 even when there are problems; \`op env doctor\` exits 1 for them.`;
  static override examples = [
    "<%= config.bin %> status",
    "<%= config.bin %> status local --watch",
    "<%= config.bin %> status local --json",
  ];
  static override args = { env: envArg };
  static override flags = {
    watch: Flags.boolean({
      char: "w",
      description: "Redraw every --interval seconds until interrupted (human output only).",
    }),
    interval: Flags.integer({
      description: "Seconds between redraws with --watch.",
      default: 2,
      min: 1,
      helpValue: "N",
    }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    if (this.flags.watch && this.jsonEnabled())
      this.usage("--watch draws for people; drop --json (or poll op status --json)");
    if (!this.flags.watch) {
      const r = await ops.status(ctx, this.env);
      this.done(r, () => statusText(r));
      return;
    }
    for (;;) {
      const r = await ops.status(ctx, this.env);
      // Clear the screen and home the cursor, then draw.
      process.stdout.write(
        `\u001b[2J\u001b[H${new Date().toISOString()}  (every ${this.flags.interval}s, Ctrl-C to stop)\n\n${statusText(r)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, this.flags.interval * 1000));
    }
  }
}
