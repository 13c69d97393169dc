import * as Args from "@oclif/core/args";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag } from "../../lib/mutating.js";

export default class SecretsDelete extends MutatingCommand<typeof SecretsDelete> {
  static override summary = "Delete a secret.";
  static override description = "Deleting a name that does not exist succeeds and says so.";
  static override examples = ["<%= config.bin %> secrets delete local db/password"];
  static override answersKey = "secrets delete";
  static override args = {
    env: optionalEnvArg,
    name: Args.string({ description: "Secret name, e.g. db/password (name)." }),
  };
  static override flags = {
    ...answersFlags,
    ...idempotencyFlag,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const extra: Record<string, unknown> = {};
    const payload = await this.payload({
      ...extra,
    });
    const { ops, ctx } = await this.ops();
    const r = await ops.secretsDelete(ctx, payload, this.mutationOptions());
    this.done(
      r,
      r.deleted === false
        ? `Secret ${r.name} did not exist in ${r.environment_id}.`
        : `Deleted secret ${r.name} from ${r.environment_id}.`,
    );
  }
}
