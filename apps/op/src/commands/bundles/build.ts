import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { table } from "../../lib/render.js";

export default class BundlesBuild extends OpCommand<typeof BundlesBuild> {
  static override noun = "bundles";
  static override summary = "Build a reproducible .gtbundle (squashfs) from a directory.";
  static override description =
    "Same input, same bytes: entries are sorted, times fixed (SOURCE_DATE_EPOCH or the epoch unless --created-at), owners root. The leak scanner runs first; a bundle with findings is refused (exit 2) unless --allow-leaks. Needs mksquashfs (squashfs-tools).";
  static override examples = [
    "<%= config.bin %> bundles build fixtures/bundles/hello --bundle-id hello --bundle-version 0.1.0 --out hello.gtbundle",
    "SOURCE_DATE_EPOCH=1700000000 <%= config.bin %> bundles build ./site --bundle-id site --bundle-version 1.2.0 --out site.gtbundle --json",
  ];
  static override args = {
    dir: Args.directory({ description: "Directory holding the bundle's files.", required: true }),
  };
  static override flags = {
    "bundle-id": Flags.string({ description: "Bundle id (letters, digits, '.', '_', '-').", required: true }),
    "bundle-version": Flags.string({
      description: "Semantic version of this build.",
      required: true,
      helpValue: "SEMVER",
    }),
    out: Flags.string({
      char: "o",
      description: "Output file (replaced atomically).",
      required: true,
      helpValue: "FILE",
    }),
    "created-at": Flags.string({ description: "RFC 3339 creation time recorded in the manifest.", helpValue: "TIME" }),
    "allow-leaks": Flags.boolean({
      description: "Build even when the leak scanner finds something (the findings are printed).",
    }),
  };

  override async run(): Promise<void> {
    const f = this.flags;
    const { buildBundle } = await import("@greentic/bundle");
    this.progress(`Building ${f.out} from ${this.args.dir}...`);
    const r = await buildBundle({
      sourceDir: this.args.dir,
      outFile: f.out,
      bundleId: f["bundle-id"],
      version: f["bundle-version"],
      createdAt: f["created-at"],
      allowLeaks: f["allow-leaks"],
    });
    this.done(r, () => {
      let out = `Built ${r.outFile} (${r.size} bytes, ${r.manifest.entries?.length ?? 0} entries)\ndigest: ${r.digest}\n`;
      if (r.findings.length > 0)
        out +=
          `WARNING: ${r.findings.length} leak finding(s) allowed:\n` +
          table(r.findings, [
            { header: "kind", get: (x) => x.kind },
            { header: "path", get: (x) => x.path },
            { header: "message", get: (x) => x.message },
          ]);
      return out;
    });
  }
}
