import type { Config } from "@oclif/core";
import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";

export default class CompletionWords extends OpCommand<typeof CompletionWords> {
  static override hidden = true;
  // The command ids and topics come from oclif's configuration (src/start.ts hands it to oclif).
  static override needsOclifConfig = true;
  static override strict = false;
  static override summary = "Candidates for the word being completed (used by the completion script).";
  static override examples = ["<%= config.bin %> completion words --index 3 -- revisions warm la"];
  static override flags = {
    index: Flags.integer({ description: "Index of the word being completed (COMP_CWORD).", required: true }),
  };

  override async run(): Promise<void> {
    const { completionWords } = await import("../../lib/completion.js");
    const words = await completionWords(this.config as Config, this.positionals, this.flags.index, this.storeRoot());
    this.done({ words }, words.join("\n"));
  }
}
