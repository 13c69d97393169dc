import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { fields } from "../../lib/render.js";

export default class ConfigShow extends OpCommand<typeof ConfigShow> {
  static override summary = "Show an environment's name, host configuration and bindings (slot answers redacted).";
  static override examples = ["<%= config.bin %> config show local", "<%= config.bin %> config show local --json"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.configShow(ctx, this.env);
    this.done(r, () =>
      fields([
        ["environment", r.environment_id],
        ["name", r.name],
        ...Object.entries(r.host_config as Record<string, unknown>).filter(([k]) => k !== "env_id"),
        ["packs", r.packs.map((p) => `${p.slot}=${p.kind}${p.answers_ref ? " (answers set)" : ""}`).join(" ")],
        ["generation", r.generation],
        ["etag", r.etag],
      ]),
    );
  }
}
