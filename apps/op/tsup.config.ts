import { readdirSync } from "node:fs";
import { packageConfig } from "../../tsup.config.base.ts";

// oclif loads `dist/commands/<topic>/<verb>.js` by path, so every command is its own entry,
// named after its path; shared code is split into chunks so each command module stays small.
const entry = Object.fromEntries(
  readdirSync("src/commands", { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => [`commands/${f.slice(0, -3)}`, `src/commands/${f}`]),
);
// bin/run.js imports dist/fast.js (the read-only fast path) before deciding to load oclif.
entry.fast = "src/fast.ts";

export default packageConfig(entry, { splitting: true });
