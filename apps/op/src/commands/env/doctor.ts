import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";

export default class EnvDoctor extends OpCommand<typeof EnvDoctor> {
  static override summary = "Check an environment: document validity, bindings, registry, revisions, preflights.";
  static override description =
    "Prints one report of every problem found, including the live state: a revision with traffic that is down or not ready, a router that does not serve, a served split that differs from the stored one, deployments whose route bindings claim the same requests. Exits 0 when healthy and 1 when a problem is found (the report is printed either way). A bare environment URL that answers 404 because every served deployment is bound to a host or path prefix is a note, not a problem: the requests the bindings are meant to serve succeed; the note says how to reach each deployment.";
  static override examples = [
    "<%= config.bin %> env doctor local",
    "<%= config.bin %> env doctor local --no-preflight --json",
  ];
  static override args = { env: envArg };
  static override flags = {
    preflight: Flags.boolean({
      description: "Run the bound handlers' preflight checks.",
      default: true,
      allowNo: true,
    }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const report = await ops.envDoctor(ctx, this.env, { runPreflight: this.flags.preflight });
    this.done(report, () => {
      const lines = [`Environment ${report.environment_id}: ${report.healthy ? "healthy" : "problems found"}`];
      if (report.validate.status === "error") lines.push(`  invalid document: ${report.validate.message}`);
      lines.push(`  bound slots: ${report.bound_slots.join(", ") || "-"}`);
      if (report.missing_slots.length > 0) lines.push(`  missing slots: ${report.missing_slots.join(", ")}`);
      for (const p of report.unknown_kinds) lines.push(`  unknown kind: ${JSON.stringify(p)}`);
      for (const p of report.slot_mismatches)
        lines.push(`  slot mismatch: ${p.kind} bound as ${p.bound_slot}, handles ${p.handler_slot}`);
      for (const p of report.version_skew)
        lines.push(`  version skew: ${p.kind} requested ${p.requested}, supported ${p.supported}`);
      for (const p of report.resolution_errors) lines.push(`  resolution error: ${JSON.stringify(p)}`);
      for (const p of report.stale_revisions)
        lines.push(
          `  revision ${p.revision_id} (${p.lifecycle}, deployer: ${p.deployer_state}): ${p.detail}; ${p.fix}`,
        );
      for (const p of report.live.problems) lines.push(`  ${p}`);
      for (const n of report.live.notes) lines.push(`  note: ${n}`);
      for (const p of report.failing_preflights)
        lines.push(
          `  preflight ${p.slot}/${p.name} failed: ${p.detail}${p.install_hint ? ` (${p.install_hint})` : ""}`,
        );
      return lines.join("\n");
    });
    this.exitStatus({ failed: !report.healthy });
  }
}
