// Runs the whole vitest suite and ends with one plain closing line, "N passed, N failed",
// that CI logs can be read by whatever the reporter's colours and layout.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "../..");
const results = join(root, ".cache", "vitest-results.json");
mkdirSync(join(root, ".cache"), { recursive: true });
const run = spawnSync(
  "pnpm",
  [
    "exec",
    "vitest",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${results}`,
    ...process.argv.slice(2),
  ],
  {
    cwd: root,
    stdio: "inherit",
  },
);
let summary = "no results were written";
try {
  const r = JSON.parse(readFileSync(results, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
  };
  summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed${r.numPendingTests > 0 ? `, ${r.numPendingTests} skipped` : ""}`;
} catch (error) {
  summary += ` (${String(error)})`;
}
console.log(`\n${summary}`);
process.exit(run.status ?? 1);
