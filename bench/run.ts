// Runs every `packages/*/bench/*.bench.ts`, `apps/*/bench/*.bench.ts` and
// `scripts/release/bench/*.bench.ts` one after another
// (never in parallel: they measure the machine) and writes the collected tables to
// bench-results/latest.jsonl. Pass a substring to run only matching benches.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const filter = process.argv[2];
const files: string[] = [];
for (const group of ["packages", "apps"]) {
  for (const pkg of readdirSync(join(root, group)).sort()) {
    const dir = join(root, group, pkg, "bench");
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith(".bench.ts")) files.push(join(dir, f));
  }
}
// The release benches (single-file executables against `node`) live with the release tooling.
const releaseBenches = join(root, "scripts", "release", "bench");
for (const f of readdirSync(releaseBenches).sort()) if (f.endsWith(".bench.ts")) files.push(join(releaseBenches, f));
// Matched against the path inside the repository: a checkout whose own path contains the filter
// (e.g. a worktree named `startup`) would otherwise select every bench.
const selected = filter ? files.filter((f) => f.slice(root.length + 1).includes(filter)) : files;
mkdirSync(join(root, "bench-results"), { recursive: true });
const out = join(root, "bench-results", "latest.jsonl");
rmSync(out, { force: true });
let failed = 0;
for (const file of selected) {
  console.log(`\n# ${file.slice(root.length + 1)}`);
  const r = spawnSync(process.execPath, [file], { stdio: "inherit", env: { ...process.env, GREENTIC_BENCH_OUT: out } });
  if (r.status !== 0) failed++;
}
console.log(`\n${selected.length - failed} benches passed, ${failed} failed; tables in bench-results/latest.jsonl`);
process.exit(failed === 0 ? 0 : 1);
