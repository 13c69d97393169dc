import { OpCommand } from "../../lib/base.js";
import { envArg, listFlags } from "../../lib/args.js";

export default class EnvBackups extends OpCommand<typeof EnvBackups> {
  static override summary = "List the backups of an environment's stored files, newest first.";
  static override examples = ["<%= config.bin %> env backups local", "<%= config.bin %> env backups local --json"];
  static override args = { env: envArg };
  static override flags = { ...listFlags };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const backups = await ops.envBackups(ctx, this.env);
    await this.list(
      { environment_id: this.env, backups },
      backups,
      [
        { key: "backup", header: "backup", get: (b) => b.backup_id },
        { key: "file", header: "file", get: (b) => b.file },
        { key: "created", header: "created", get: (b) => b.created_at },
        { key: "generation", header: "generation", get: (b) => b.generation, right: true },
        { key: "size", header: "size", get: (b) => b.size_bytes, right: true },
        { key: "valid", header: "valid", get: (b) => (b.valid ? "yes" : `no: ${b.problem ?? ""}`) },
      ],
      "No backups yet.",
    );
  }
}
