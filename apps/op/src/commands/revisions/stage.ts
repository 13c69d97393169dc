import * as Flags from "@oclif/core/flags";
import { optionalEnvArg, deploymentFlag } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class RevisionsStage extends MutatingCommand<typeof RevisionsStage> {
  static override summary = "Stage a .gtbundle file as a new revision of a deployment.";
  static override description =
    "The deployer copies the file into the revision's directory, hashes the copy, scans it and extracts it safely; the revision is recorded as staged with that digest. Give revision_id (or an idempotency key) to make a retry replay instead of staging twice.";
  static override examples = [
    "<%= config.bin %> revisions stage local --deployment 01JB7Z5Q0D6E7F8G9H0J1K2M3N --bundle hello.gtbundle",
    "<%= config.bin %> revisions stage --answers stage.yaml",
  ];
  static override answersKey = "revisions stage";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    deployment: deploymentFlag(),
    bundle: Flags.string({ char: "b", description: "The .gtbundle file (bundle_path).", helpValue: "FILE" }),
    "revision-id": Flags.string({ description: "Caller-chosen revision id, a ULID (revision_id).", helpValue: "ULID" }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    const payload = await this.payload();
    const { ops, ctx } = await this.ops();
    const r = await ops.revisionsStage(ctx, payload, this.mutationOptions());
    this.done(
      r,
      `Staged revision ${r.revision.revision_id} (sequence ${r.revision.sequence}, ${r.revision.bundle_digest}).`,
    );
  }
}
