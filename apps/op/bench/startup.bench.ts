// Start-up cost of `op`: every read-only verb, help and one mutation, each as the median of
// repeated runs and as a ratio to a bare `node -e 0` measured in the same run. Targets
// (issue 15): read-only verbs at most 2.5x, `op --help` at most 3x, one mutation at most 4x.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { cpuCommand, median, report, timeCommand, type BenchRow } from "../../../bench/lib.ts";

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
  // Every verb takes the one path: oclif, the manifest, the command module, its libraries.
  type Case = { name: string; args: string[]; target: number; env?: NodeJS.ProcessEnv };
  const read = (name: string, args: string[]): Case => ({ name, args: [...args, ...store], target: 2.5 });
  const cases: Case[] = [
    read("op env show local --json", ["env", "show", "local", "--json"]),
    read("op env list", ["env", "list"]),
    read("op revisions list local", ["revisions", "list", "local"]),
    read("op traffic show local", ["traffic", "show", "local"]),
    read("op config show local", ["config", "show", "local"]),
    read("op bundles list local", ["bundles", "list", "local"]),
    read("op audit list local", ["audit", "list", "local"]),
    { name: "op --help", args: ["--help"], target: 3 },
    // Each run sets another value: a real write (lock, backup, atomic write, audit append).
    {
      name: "op config set local --region (mutation)",
      args: ["config", "set", "local", "--region", "r", ...store],
      target: 4,
    },
  ];
  const rows: BenchRow[] = [{ name: "node -e 0 (baseline)", median: baseline, unit: "ms", ratio: 1, runs }];
  for (const c of cases) {
    const times = timeCommand(
      process.execPath,
      [bin, ...c.args.map((a) => (a === "r" ? `r${n++}` : a))],
      runs,
      c.env ?? env,
    );
    const m = median(times);
    const met = m / baseline <= c.target ? "met" : "MISSED";
    rows.push({
      name: c.name,
      median: m,
      unit: "ms",
      ratio: m / baseline,
      runs,
      note: Number.isNaN(c.target) ? "" : `target <= ${c.target}x: ${met}`,
    });
  }
  report("op start-up", "node -e 0", rows);

  // The same cases in CPU time (user + system): on a loaded machine wall time is mostly the wait
  // for a core, which a short `node -e 0` suffers less than a long start-up.
  const cpuBase = median(cpuCommand(process.execPath, ["-e", "0"], runs, env));
  const cpuRows: BenchRow[] = [{ name: "node -e 0 (baseline)", median: cpuBase, unit: "ms", ratio: 1, runs }];
  for (const c of cases) {
    const m = median(
      cpuCommand(process.execPath, [bin, ...c.args.map((a) => (a === "r" ? `r${n++}` : a))], runs, c.env ?? env),
    );
    cpuRows.push({
      name: c.name,
      median: m,
      unit: "ms",
      ratio: m / cpuBase,
      runs,
      note: `target <= ${c.target}x: ${m / cpuBase <= c.target ? "met" : "MISSED"}`,
    });
  }
  // `op version` runs no library code: what op's command base and oclif's parser cost alone (no target).
  const oclif = median(cpuCommand(process.execPath, [bin, "version"], runs, env));
  cpuRows.push({
    name: "op version (command base and parser)",
    median: oclif,
    unit: "ms",
    ratio: oclif / cpuBase,
    runs,
  });
  report("op start-up, CPU time (user + system)", "node -e 0", cpuRows);

  // What the layers every verb stands on cost by themselves, loaded as op loads them (one ES
  // module bundle, CommonJS dependencies inside it, Node's compile cache on) and nothing else
  // run: the floor under the targets above.
  const deploySpec = resolve(import.meta.dirname, "../../../packages/deploy-spec");
  const layers: Array<{ name: string; source: string; from?: string }> = [
    { name: "zod (the schema library)", source: 'import * as z from "zod"; globalThis.loaded = z;', from: deploySpec },
    {
      name: "deploy-spec documents (the schemas a verified read checks)",
      source: 'import * as d from "@greentic/deploy-spec/documents"; globalThis.loaded = d;',
    },
    {
      name: "@oclif/core's parser, flags and args alone",
      source:
        'import { parse } from "@oclif/core/parser"; import { Flags } from "@oclif/core/flags"; import { Args } from "@oclif/core/args"; globalThis.loaded = [parse, Flags, Args];',
    },
    { name: "@oclif/core (the CLI framework)", source: 'import * as o from "@oclif/core"; globalThis.loaded = o;' },
  ];
  const layerRows: BenchRow[] = [{ name: "node -e 0 (baseline)", median: cpuBase, unit: "ms", ratio: 1, runs }];
  for (const [i, layer] of layers.entries()) {
    await build({
      stdin: { contents: layer.source, resolveDir: layer.from ?? resolve(import.meta.dirname, ".."), loader: "ts" },
      outfile: join(root, `layer-${i}.bundle.mjs`),
      bundle: true,
      platform: "node",
      format: "esm",
      conditions: ["@greentic/source"],
      mainFields: ["module", "main"],
      banner: { js: 'import { createRequire as __c } from "node:module"; const require = __c(import.meta.url);' },
      logLevel: "error",
    });
    const runner = join(root, `layer-${i}.mjs`);
    writeFileSync(
      runner,
      `import module from "node:module";\nmodule.enableCompileCache?.();\nawait import("./layer-${i}.bundle.mjs");\n`,
    );
    const m = median(cpuCommand(process.execPath, [runner], runs, env));
    layerRows.push({ name: layer.name, median: m, unit: "ms", ratio: m / cpuBase, runs });
  }
  report("op start-up: the layers alone, CPU time (user + system)", "node -e 0", layerRows);
} finally {
  rmSync(root, { recursive: true, force: true });
}
