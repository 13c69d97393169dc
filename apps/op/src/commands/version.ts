import { OpCommand } from "../lib/base.js";

// Filled in by the build (tsup `define`); `unknown` when built outside a git checkout.
declare const __OP_COMMIT__: string;

export default class Version extends OpCommand<typeof Version> {
  static override noun = "op";
  static override verb = "version";
  static override summary = "Print op's version, the commit it was built from, and the Node.js running it.";
  static override examples = ["<%= config.bin %> version", "<%= config.bin %> version --json"];

  override async run(): Promise<void> {
    const result = {
      version: this.config.version,
      commit: typeof __OP_COMMIT__ === "string" ? __OP_COMMIT__ : "unknown",
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    };
    this.done(result, `op ${result.version} (commit ${result.commit}, Node.js ${result.node}, ${result.platform})`);
  }
}
