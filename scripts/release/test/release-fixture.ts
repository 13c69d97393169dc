// One `pnpm release` build per source state, shared by the release test files: the first file
// to ask builds it under a lock, the others reuse it. The key covers the commit, the uncommitted
// changes and the built dist/ trees, so a stale release is never reused.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const repo = resolve(import.meta.dirname, "../../..");

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { recursive: true, encoding: "utf8" }))
    newest = Math.max(newest, statSync(join(dir, e)).mtimeMs);
  return newest;
}

export function releaseFixture(): string {
  const key = createHash("sha256")
    .update(execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo }))
    .update(execFileSync("git", ["diff", "HEAD"], { cwd: repo, maxBuffer: 256 * 1024 * 1024 }))
    .update(
      ["packages", "apps"]
        .flatMap((g) => readdirSync(join(repo, g)).map((p) => newestMtime(join(repo, g, p, "dist"))))
        .join(","),
    )
    .digest("hex")
    .slice(0, 16);
  const base = join(repo, ".cache", "release-test");
  const dir = join(base, key);
  mkdirSync(base, { recursive: true });
  // One builder at a time (flock); the others wait, then find the finished build.
  execFileSync(
    "flock",
    [
      join(base, ".lock"),
      "sh",
      "-c",
      '[ -f "$1/.complete" ] || { rm -rf "$1" && "$2" "$3" && touch "$1/.complete"; }',
      "sh",
      dir,
      process.execPath,
      join(repo, "scripts/release/build.ts"),
    ],
    { env: { ...process.env, GREENTIC_RELEASE_DIR: dir }, stdio: ["ignore", "ignore", "pipe"], timeout: 600_000 },
  );
  // Older builds of other source states are of no further use.
  for (const old of readdirSync(base))
    if (old !== key && old !== ".lock") rmSync(join(base, old), { recursive: true, force: true });
  return dir;
}
