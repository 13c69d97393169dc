import { OpCommand } from "../../lib/base.js";
import { envArg, listFlags } from "../../lib/args.js";

export default class EnvPacksList extends OpCommand<typeof EnvPacksList> {
  static override summary = "List an environment's env-pack bindings and how the registry resolves them.";
  static override examples = [
    "<%= config.bin %> env-packs list local",
    "<%= config.bin %> env-packs list local --json",
  ];
  static override args = { env: envArg };
  static override flags = { ...listFlags };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.envPacksList(ctx, this.env);
    await this.list(
      r,
      r.packs,
      [
        { key: "slot", header: "slot", get: (p) => p.slot },
        { key: "kind", header: "kind", get: (p) => p.kind },
        { key: "generation", header: "generation", get: (p) => p.generation, right: true },
        { key: "rollback", header: "rollback", get: (p) => (p.has_previous ? "yes" : "no") },
        {
          key: "handler",
          header: "handler",
          get: (p) => (p.handler ? p.handler.descriptor_path : `unresolved: ${p.problem?.message ?? "?"}`),
        },
      ],
      "No env-packs bound. Bind the local defaults with: op env init",
    );
  }
}
