import * as Args from "@oclif/core/args";
import { OpCommand } from "../../lib/base.js";
import { table } from "../../lib/render.js";

export default class BundlesScan extends OpCommand<typeof BundlesScan> {
  static override summary = "Scan a .gtbundle or a directory for leaked secrets (dev-store files, keys, tokens).";
  static override description =
    "Findings name the path and the kind, never the secret. Exits 0 when clean and 1 when something is found.";
  static override examples = [
    "<%= config.bin %> bundles scan hello.gtbundle",
    "<%= config.bin %> bundles scan ./site --json",
  ];
  static override args = { target: Args.string({ description: "A .gtbundle file or a directory.", required: true }) };

  override async run(): Promise<void> {
    const { stat } = await import("node:fs/promises");
    const { scanBundle, scanDirectory } = await import("@greentic/bundle");
    const st = await stat(this.args.target).catch(() => undefined);
    if (st === undefined) {
      const { CliInputError } = await import("../../lib/errors.js");
      throw new CliInputError(
        "not-found",
        `${this.args.target}: no such file or directory`,
        "pass a .gtbundle file or a directory",
        this.args.target,
      );
    }
    const r = st.isDirectory() ? await scanDirectory(this.args.target) : await scanBundle(this.args.target);
    this.done(r, () =>
      r.ok
        ? `Clean: no leaks found in ${this.args.target}.`
        : `${r.findings.length} finding(s) in ${this.args.target}:\n` +
          table(r.findings, [
            { header: "kind", get: (x) => x.kind },
            { header: "path", get: (x) => x.path },
            { header: "rule", get: (x) => x.rule },
            { header: "message", get: (x) => x.message },
          ]),
    );
    this.exitStatus({ failed: !r.ok });
  }
}
