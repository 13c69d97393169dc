import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { packageConfig } from "../../tsup.config.base.ts";

// oclif loads `dist/commands/<topic>/<verb>.js` by path, so every command is its own entry,
// named after its path; shared code is split into chunks so each command module stays small.
const entry = Object.fromEntries(
  readdirSync("src/commands", { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => [`commands/${f.slice(0, -3)}`, `src/commands/${f}`]),
);
entry["hooks/command-not-found"] = "src/hooks/command-not-found.ts";

/** The commit `op version` reports: the checkout's HEAD (with -dirty), or "unknown". */
function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim();
    return dirty === "" ? head : `${head}-dirty`;
  } catch {
    return "unknown";
  }
}

export default packageConfig(entry, { splitting: true, define: { __OP_COMMIT__: JSON.stringify(commit()) } });
