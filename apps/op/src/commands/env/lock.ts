import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { envArg } from "../../lib/args.js";
import { fields } from "../../lib/render.js";

export default class EnvLock extends OpCommand<typeof EnvLock> {
  static override summary = "Show who holds an environment's lock, or force-unlock a lock left by a dead process.";
  static override description =
    "Without --force-unlock, prints the lock record (or that the environment is unlocked). --force-unlock needs the lock id shown, so that a lock taken meanwhile by someone else is not broken.";
  static override examples = [
    "<%= config.bin %> env lock local",
    "<%= config.bin %> env lock local --force-unlock 01JB7ZC0FFEE0000000000000",
  ];
  static override args = { env: envArg };
  static override flags = {
    "force-unlock": Flags.string({ description: "Remove the lock with this id.", helpValue: "LOCK_ID" }),
  };

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const lockId = this.flags["force-unlock"];
    const r =
      lockId === undefined ? await ops.envLockShow(ctx, this.env) : await ops.envForceUnlock(ctx, this.env, lockId);
    this.done(r, () => {
      if (lockId !== undefined) return `Removed lock ${lockId} of ${r.environment_id}.`;
      if (r.lock === null) return `Environment ${r.environment_id} is not locked.`;
      return `Environment ${r.environment_id} is locked:\n${fields(Object.entries(r.lock as Record<string, unknown>))}`;
    });
  }
}
