import type { Hook } from "@oclif/core";
import { EXIT, renderHumanError, type ErrorBody } from "../lib/errors.js";
import { alternatives, closest } from "../lib/suggest.js";

/**
 * An unknown command is a usage error (exit 2) with "did you mean", named with spaces as typed
 * (`revisions warm`, never oclif's `revisions:warm`), and a JSON envelope under --json.
 */
const hook: Hook<"command_not_found"> = async (options) => {
  // oclif joins every leading word into the id (`revisions:wram:latest`): keep the known topic
  // and the first word after it, which is the unknown command.
  const words = options.id.split(":");
  const topics = new Set(options.config.topics.map((t) => t.name));
  let known = 0;
  while (known < words.length - 1 && topics.has(words.slice(0, known + 1).join(":"))) known++;
  const typed = words.slice(0, known + 1).join(" ");
  const ids = options.config.commandIDs
    .filter((id) => !options.config.findCommand(id)?.hidden)
    .map((id) => id.replaceAll(":", " "));
  const matches = closest(typed, ids);
  const body: ErrorBody = {
    kind: "invalid-argument",
    message: `unknown command "${typed}"`,
    hint:
      matches.length > 0
        ? `did you mean ${alternatives(matches.map((m) => `op ${m}`))}? (\`op help\` lists every command)`
        : "`op help` lists every command",
  };
  const argv = options.argv ?? [];
  const end = argv.indexOf("--");
  const json = argv.slice(0, end === -1 ? undefined : end).includes("--json");
  if (json) {
    const words = typed.split(" ");
    process.stderr.write(`${JSON.stringify({ op: words.at(-1), noun: words[0], error: body })}\n`);
  } else process.stderr.write(renderHumanError(body));
  // stderr is synchronous for files and pipes on Linux: nothing is lost by exiting here.
  process.exit(EXIT.usage);
};

export default hook;
