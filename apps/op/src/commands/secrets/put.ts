import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag } from "../../lib/mutating.js";

export default class SecretsPut extends MutatingCommand<typeof SecretsPut> {
  static override summary = "Write a secret into the environment's secrets backend.";
  static override description =
    "The value is never printed, logged or audited (the audit log keeps a digest). Use --value-stdin or an answers file with a value field.";
  static override examples = [
    "printf %s 's3cret' | <%= config.bin %> secrets put local db/password --value-stdin",
    "<%= config.bin %> secrets put --answers secret.yaml",
  ];
  static override answersKey = "secrets put";
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
    const r = await ops.secretsPut(ctx, payload, this.mutationOptions());
    this.done(r, `${r.created ? "Created" : "Updated"} secret ${r.name} in ${r.environment_id}.`);
  }
}
