import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Vitest global setup. Tests that spawn real processes (the runtime, the router, `op`, store
 * workers) run built `dist/` code, so everything is built once here, before any test file
 * starts, and no test file builds (and so cleans) a `dist/` another test file is executing.
 * `pnpm test` has just built and sets GREENTIC_TEST_BUILT=1; a developer running one test
 * file gets a build only when some package's sources are newer than its dist.
 */
export default function ensureBuilt(): void {
  if (process.env.GREENTIC_TEST_BUILT === "1") return;
  const root = join(import.meta.dirname, "../..");
  const stale = packageDirs(root).filter((dir) => newestMtime(join(dir, "src")) > newestMtime(join(dir, "dist"), 0));
  if (stale.length === 0) return;
  try {
    execFileSync("pnpm", ["build"], { cwd: root, stdio: ["ignore", "ignore", "pipe"], timeout: 600_000 });
  } catch (error) {
    // A package mid-edit may not build; the tests that need its dist will say so themselves.
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
    console.warn(`[ensure-built] pnpm build failed; running tests against the existing dist/\n${stderr.slice(-2000)}`);
  }
}

function packageDirs(root: string): string[] {
  return ["packages", "apps"].flatMap((group) =>
    readdirSync(join(root, group))
      .map((name) => join(root, group, name))
      .filter((dir) => existsSync(join(dir, "package.json"))),
  );
}

function newestMtime(dir: string, missing = Number.POSITIVE_INFINITY): number {
  if (!existsSync(dir)) return missing;
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    newest = Math.max(newest, statSync(join(dir, entry)).mtimeMs);
  }
  return newest;
}
