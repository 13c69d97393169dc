import { Flags } from "@oclif/core";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { table } from "../../lib/render.js";

export default class AuditList extends OpCommand<typeof AuditList> {
  static override summary = "List an environment's audit events, oldest first.";
  static override examples = [
    "<%= config.bin %> audit list local",
    "<%= config.bin %> audit list local --noun traffic --limit 20",
    "<%= config.bin %> audit list local --since 2026-07-01T00:00:00Z --json",
  ];
  static override args = { env: envArg };
  static override flags = {
    noun: Flags.string({ description: "Only events of this noun (env, traffic, revisions...)." }),
    verb: Flags.string({ description: "Only events of this verb." }),
    since: Flags.string({ description: "Only events at or after this RFC 3339 time.", helpValue: "TIME" }),
    actor: Flags.string({ description: "Only events by this user." }),
    limit: Flags.integer({ description: "Only the newest N matches.", min: 1, helpValue: "N" }),
  };

  override async run(): Promise<void> {
    const f = this.flags;
    const { ops, ctx } = await this.ops();
    const r = await ops.auditList(ctx, this.args.env, {
      noun: f.noun,
      verb: f.verb,
      since: f.since,
      actor: f.actor,
      limit: f.limit,
    });
    this.done(r, () =>
      table(
        r.events,
        [
          { header: "time", get: (e) => e.ts },
          { header: "actor", get: (e) => e.actor.user ?? e.actor.kind },
          { header: "noun", get: (e) => e.noun },
          { header: "verb", get: (e) => e.verb },
          {
            header: "generation",
            get: (e) =>
              e.new_generation === undefined ? undefined : `${e.previous_generation ?? "-"}->${e.new_generation}`,
          },
          {
            header: "result",
            get: (e) => (e.result.outcome === "error" ? `error ${e.result.kind}` : e.result.outcome),
          },
        ],
        "No audit events.",
      ),
    );
  }
}
