import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { table } from "../../lib/render.js";

export default class EnvBackups extends OpCommand<typeof EnvBackups> {
  static override summary = "List the backups of an environment's stored files, oldest first.";
  static override examples = ["<%= config.bin %> env backups local", "<%= config.bin %> env backups local --json"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const backups = await ops.envBackups(ctx, this.args.env);
    this.done({ environment_id: this.args.env, backups }, () =>
      table(
        backups,
        [
          { header: "backup", get: (b) => b.backup_id },
          { header: "file", get: (b) => b.file },
          { header: "created", get: (b) => b.created_at },
          { header: "generation", get: (b) => b.generation, right: true },
          { header: "size", get: (b) => b.size_bytes, right: true },
          { header: "valid", get: (b) => (b.valid ? "yes" : `no: ${b.problem ?? ""}`) },
        ],
        "No backups yet.",
      ),
    );
  }
}
