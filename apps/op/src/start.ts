// How `op` starts, for bin/run.js and the single-file executable alike. A command of op's own
// runs straight on its class with oclif's argument parser: loading oclif's configuration,
// plugins and help costs about as much as everything else a read verb does, and a command uses
// none of it. Everything else goes to oclif (src/main.ts) as before: help (`help`, `-h`,
// `--help`, a topic, no command), an unknown command (the did-you-mean hook), the plugins'
// commands, and `completion words` (it asks oclif's configuration for the command ids). Both
// ways run the same command classes; oclif would call the same `run` (see lib/command.ts).
import type { Interfaces } from "@oclif/core";
import * as Errors from "@oclif/core/errors";
import { OP_LOADERS, PJSON } from "op-embedded:plugins";
import type { CommandBase } from "./lib/command.js";

type CommandClass = typeof CommandBase & { run(argv: string[], config: { version: string }): Promise<unknown> };

/**
 * The id of op's own command that `argv` starts with (`env show local` → `env:show`) and the
 * words it took, or undefined when oclif should have the command line: no command, a help flag
 * before `--`, or words that name no command of op's. No command id is a prefix of another, so
 * the longest run of leading words that is an id is the one oclif would find too.
 */
function ownCommand(argv: readonly string[], manifest: Interfaces.Manifest): { id: string; words: number } | undefined {
  const end = argv.indexOf("--");
  if ((end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h")) return undefined;
  let found: { id: string; words: number } | undefined;
  for (let n = 1; n <= argv.length && !argv[n - 1]!.startsWith("-"); n++) {
    const id = argv.slice(0, n).join(":");
    if (manifest.commands[id] !== undefined && OP_LOADERS[id] !== undefined) found = { id, words: n };
  }
  return found;
}

/**
 * Runs `argv` and settles the exit status as oclif's `execute()` does: a command's failure has
 * already been reported by its `catch`, which ends with oclif's ExitError carrying the code.
 */
export async function runOp(argv: string[], root: string, manifest: Interfaces.Manifest): Promise<void> {
  const own = ownCommand(argv, manifest);
  const module = own === undefined ? undefined : await OP_LOADERS[own.id]!();
  const command = (module?.default ?? Object.values(module ?? {})[0]) as CommandClass | undefined;
  if (own === undefined || command === undefined || command.needsOclifConfig)
    return (await loadOclifRunner())(argv, root, manifest);
  command.id = own.id;
  try {
    await command.run(argv.slice(own.words), { version: PJSON.version });
  } catch (error) {
    if (error instanceof Errors.ExitError) process.exit(error.oclif.exit);
    // Not reached by op's commands (their `catch` reports every failure); kept loud if it is.
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
}

/**
 * src/main.ts, which imports oclif. oclif checks Node against its own package.json's engines on
 * import, loading semver (47 modules) for it; package.json's engines and Node's own check already
 * cover op. Its documented switch is set for the import only, so that no process op starts
 * inherits it.
 */
async function loadOclifRunner() {
  const engineWarning = process.env.OCLIF_DISABLE_ENGINE_WARNING;
  process.env.OCLIF_DISABLE_ENGINE_WARNING = "1";
  try {
    return (await import("./main.js")).runWithOclif;
  } finally {
    if (engineWarning === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING;
    else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineWarning;
  }
}
