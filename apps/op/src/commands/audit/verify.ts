import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";

export default class AuditVerify extends OpCommand<typeof AuditVerify> {
  static override summary = "Verify the hash chain of an environment's audit log (exit 1 when broken).";
  static override examples = ["<%= config.bin %> audit verify local"];
  static override args = { env: envArg };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const r = await ops.auditVerify(ctx, this.env);
    this.done(
      r,
      r.ok
        ? `Audit log of ${r.environment_id} is intact (${r.lines} events).`
        : `Audit log of ${r.environment_id} is BROKEN at line ${r.line} of ${r.lines}: ${r.reason}`,
    );
    this.exitStatus({ failed: !r.ok });
  }
}
