import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { fields, table } from "../../lib/render.js";

export default class BundlesInspect extends OpCommand<typeof BundlesInspect> {
  static override summary = "Show a .gtbundle's manifest and content without mounting or extracting it.";
  static override examples = [
    "<%= config.bin %> bundles inspect hello.gtbundle",
    "<%= config.bin %> bundles inspect hello.gtbundle --entries --json",
  ];
  static override args = { file: Args.file({ description: "The .gtbundle file.", required: true }) };
  static override flags = { entries: Flags.boolean({ description: "List every entry." }) };

  override async run(): Promise<void> {
    const { inspectBundle } = await import("@greentic/bundle");
    const r = await inspectBundle(this.args.file);
    this.done(r, () => {
      const m = r.manifest as unknown as Record<string, unknown>;
      let out = fields([
        ["file", r.file],
        ["bundle", m.bundle_id],
        ["version", m.version],
        // Reproducible builds fix the time at the epoch unless told otherwise: not a real date.
        [
          "created",
          m.created_at === "1970-01-01T00:00:00Z" ? "not recorded (bundles build --created-at sets it)" : m.created_at,
        ],
        ["image digest", r.imageDigest],
        ["content digest", m.content_digest],
        [
          "size",
          `${r.imageSize} bytes (content ${r.totalBytes} bytes, ${(m.entries as unknown[] | undefined)?.length ?? r.entries.length} entries)`,
        ],
      ]);
      if (this.flags.entries)
        out +=
          "\n" +
          table(r.entries as unknown as Record<string, unknown>[], [
            { header: "type", get: (e) => e.type },
            { header: "size", get: (e) => e.size, right: true },
            { header: "path", get: (e) => e.path },
          ]);
      return out;
    });
  }
}
