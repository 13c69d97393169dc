import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag } from "../../lib/mutating.js";

export default class SecretsRotate extends MutatingCommand<typeof SecretsRotate> {
  static override summary = "Replace a secret's value (a random one unless given).";
  static override description = "Without a value the backend generates a random one. The value is never printed.";
  static override examples = [
    "<%= config.bin %> secrets rotate local db/password",
    "<%= config.bin %> secrets rotate local api/token --value-stdin < token.txt",
  ];
  static override answersKey = "secrets rotate";
  static override args = {
    env: optionalEnvArg,
    name: Args.string({ description: "Secret name, e.g. db/password (name)." }),
  };
  static override flags = {
    ...answersFlags,
    "value-stdin": Flags.boolean({
      description: "Read the value from stdin (keeps it out of the shell history and the process list).",
    }),
    ...idempotencyFlag,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    let extra: Record<string, unknown> = {};
    if (this.flags["value-stdin"]) {
      if (this.flags.answers === "-")
        this.usage(
          "--value-stdin and --answers - both read stdin",
          "put the value in the answers file, or pass the answers as a file",
        );
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      extra = {
        value: Buffer.concat(chunks)
          .toString("utf8")
          .replace(/\r?\n$/, ""),
      };
    }
    const payload = await this.payload({
      ...extra,
    });
    const { ops, ctx } = await this.ops();
    const r = await ops.secretsRotate(ctx, payload, this.mutationOptions());
    this.done(r, `Rotated secret ${r.name} in ${r.environment_id}${r.rotated_at ? ` at ${r.rotated_at}` : ""}.`);
  }
}
