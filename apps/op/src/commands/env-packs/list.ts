import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { table } from "../../lib/render.js";

export default class EnvPacksList extends OpCommand<typeof EnvPacksList> {
  static override summary = "List an environment's env-pack bindings and how the registry resolves them.";
  static override examples = [
    "<%= config.bin %> env-packs list local",
    "<%= config.bin %> env-packs list local --json",
  ];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.envPacksList(ctx, this.args.env);
    this.done(r, () =>
      table(
        r.packs,
        [
          { header: "slot", get: (p) => p.slot },
          { header: "kind", get: (p) => p.kind },
          { header: "generation", get: (p) => p.generation, right: true },
          { header: "rollback", get: (p) => (p.has_previous ? "yes" : "no") },
          {
            header: "handler",
            get: (p) => (p.handler ? p.handler.descriptor_path : `unresolved: ${p.problem?.message ?? "?"}`),
          },
        ],
        "No env-packs bound. Bind the local defaults with: op env init",
      ),
    );
  }
}
