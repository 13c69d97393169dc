import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";

export default class BundlesVerify extends OpCommand<typeof BundlesVerify> {
  static override summary = "Verify a .gtbundle: image digest, manifest, and content digest of a safe extraction.";
  static override description = "Exits 0 when the bundle verifies and 1 with every problem listed when it does not.";
  static override examples = [
    "<%= config.bin %> bundles verify hello.gtbundle",
    "<%= config.bin %> bundles verify hello.gtbundle --digest sha256:0f3c... --json",
  ];
  static override args = { file: Args.file({ description: "The .gtbundle file.", required: true }) };
  static override flags = {
    digest: Flags.string({
      description: "The image digest it must have (e.g. a revision's bundle_digest).",
      helpValue: "sha256:HEX",
    }),
  };

  override async run(): Promise<void> {
    const { verifyBundle } = await import("@greentic/bundle");
    const r = await verifyBundle(this.args.file, { expectedDigest: this.flags.digest });
    this.done(r, () =>
      r.ok
        ? `OK ${this.args.file} ${r.imageDigest}`
        : [
            `FAILED ${this.args.file} ${r.imageDigest}`,
            ...r.problems.map((p) => `  ${p.code}${p.path ? ` ${p.path}` : ""}: ${p.message}`),
          ].join("\n"),
    );
    this.exitStatus({ failed: !r.ok });
  }
}
