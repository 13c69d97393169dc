import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { envArg, listFlags } from "../../lib/args.js";

export default class AuditList extends OpCommand<typeof AuditList> {
  static override summary = "List an environment's audit events, oldest first.";
  static override examples = [
    "<%= config.bin %> audit list local",
    "<%= config.bin %> audit list local --noun traffic --limit 20",
    "<%= config.bin %> audit list --since 1h",
    "<%= config.bin %> audit list local --since yesterday --columns time,verb,target",
    "<%= config.bin %> audit list local --since 2026-07-01T00:00:00Z --json",
  ];
  static override args = { env: envArg };
  static override flags = {
    ...listFlags,
    noun: Flags.string({ description: "Only events of this noun (env, traffic, revisions...)." }),
    verb: Flags.string({ description: "Only events of this verb." }),
    since: Flags.string({
      description:
        "Only events at or after this time: a duration ago (30m, 1h, 2d), today, yesterday, a date (2026-07-01) or an RFC 3339 time.",
      helpValue: "WHEN",
    }),
    actor: Flags.string({ description: "Only events by this user." }),
    limit: Flags.integer({ description: "Only the newest N matches.", min: 1, helpValue: "N" }),
  };

  override async run(): Promise<void> {
    const f = this.flags;
    const { ops, ctx } = await this.ops();
    const r = await ops.auditList(ctx, this.env, {
      noun: f.noun,
      verb: f.verb,
      since: f.since,
      actor: f.actor,
      limit: f.limit,
    });
    await this.list(
      r,
      r.events,
      [
        { key: "time", header: "time", get: (e) => e.ts },
        { key: "actor", header: "actor", get: (e) => e.actor.user ?? e.actor.kind },
        { key: "noun", header: "noun", get: (e) => e.noun },
        { key: "verb", header: "verb", get: (e) => e.verb },
        { key: "target", header: "target", get: (e) => describeTarget(e.target) },
        {
          key: "generation",
          header: "generation",
          get: (e) =>
            e.new_generation === undefined ? undefined : `${e.previous_generation ?? "-"}->${e.new_generation}`,
        },
        {
          key: "result",
          header: "result",
          get: (e) => (e.result.outcome === "error" ? `error ${e.result.kind}` : e.result.outcome),
        },
      ],
      "No audit events.",
    );
  }
}

/**
 * An audit target in one cell: traffic events as `DEPLOYMENT REV=WEIGHT ...` (ids shortened
 * to 10 characters, still a unique prefix in practice), others as their fields.
 */
function describeTarget(target: unknown): string | undefined {
  if (target === null || target === undefined) return undefined;
  if (typeof target !== "object") return String(target);
  const t = target as Record<string, unknown>;
  const short = (id: unknown) => (typeof id === "string" && id.length === 26 ? id.slice(0, 10) : String(id));
  if (Array.isArray(t.entries)) {
    const entries = (t.entries as { revision_id: string; weight_bps: number }[])
      .map((e) => `${short(e.revision_id)}=${e.weight_bps / 100}%`)
      .join(" ");
    return t.deployment_id === undefined ? entries : `${short(t.deployment_id)} ${entries}`;
  }
  return Object.entries(t)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : short(v)}`)
    .join(" ");
}
