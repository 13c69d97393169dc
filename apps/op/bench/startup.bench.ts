// Start-up cost of `op`: read-only verbs, help and one mutation, each as the median of
// repeated runs and as a ratio to a bare `node -e 0` measured in the same run.
// Target: read-only verbs at most 3x a bare node start.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, report, timeCommand, type BenchRow } from "../../../bench/lib.ts";

const bin = resolve(import.meta.dirname, "..", "bin", "run.js");
const runs = Number(process.env.OP_BENCH_RUNS ?? 15);
const root = mkdtempSync(join(tmpdir(), "op-bench-"));
const env = { ...process.env, NO_COLOR: "1" };
const store = ["--store-root", root];
try {
  const init = spawnSync(process.execPath, [bin, "env", "init", ...store], { env });
  if (init.status !== 0) throw new Error(`op env init failed: ${init.stderr}`);

  const baseline = median(timeCommand(process.execPath, ["-e", "0"], runs, env));
  let n = 0;
  // The read-only verbs run as users run them: bin/run.js answers them on its fast path when
  // the store vouches for the files; the oclif path is measured too, for comparison.
  const cases: [string, string[], NodeJS.ProcessEnv?][] = [
    ["op env show local --json", ["env", "show", "local", "--json", ...store]],
    [
      "op env show local --json (GREENTIC_OP_NO_FAST_PATH=1)",
      ["env", "show", "local", "--json", ...store],
      { ...env, GREENTIC_OP_NO_FAST_PATH: "1" },
    ],
    ["op env list", ["env", "list", ...store]],
    ["op --help", ["--help"]],
    // Each run uses its own key: a real write (lock, backup, atomic write, audit append).
    ["op config set local --region (mutation)", ["config", "set", "local", "--region", "r", ...store]],
  ];
  const rows: BenchRow[] = [{ name: "node -e 0 (baseline)", median: baseline, unit: "ms", ratio: 1, runs }];
  for (const [name, args, caseEnv] of cases) {
    const times = timeCommand(
      process.execPath,
      [bin, ...args.map((a) => (a === "r" ? `r${n++}` : a))],
      runs,
      caseEnv ?? env,
    );
    const m = median(times);
    rows.push({
      name,
      median: m,
      unit: "ms",
      ratio: m / baseline,
      runs,
      note:
        name.includes("mutation") || name.includes("help") || name.includes("NO_FAST")
          ? ""
          : m / baseline <= 3
            ? "target <= 3x: met"
            : "target <= 3x: MISSED",
    });
  }
  report("op start-up", "node -e 0", rows);
} finally {
  rmSync(root, { recursive: true, force: true });
}
