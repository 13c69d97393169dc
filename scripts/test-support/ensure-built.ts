import { execFileSync } from "node:child_process";

/**
 * Tests that spawn real processes (the runtime, the `op` binary, store workers) run built
 * `dist/` code. `pnpm test` builds everything before vitest starts and sets
 * GREENTIC_TEST_BUILT=1; a developer running one test file gets a build here instead.
 * The build happens in vitest's global setup, once, so that no test file rebuilds (and
 * cleans) a `dist/` another test file is executing.
 */
export default function ensureBuilt(): void {
  if (process.env.GREENTIC_TEST_BUILT === "1") return;
  execFileSync("pnpm", ["build"], { cwd: new URL("../..", import.meta.url), stdio: ["ignore", "ignore", "inherit"] });
  process.env.GREENTIC_TEST_BUILT = "1";
}
