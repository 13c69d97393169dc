import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `fn` `runs` times (after `warmup` unmeasured runs) and returns each duration in ms. */
export async function timeRuns(fn: () => unknown, runs: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

/** Times a command as a child process, `runs` times; returns durations in ms. Fails loudly. */
export function timeCommand(
  cmd: string,
  args: readonly string[],
  runs: number,
  env: NodeJS.ProcessEnv = process.env,
): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const start = performance.now();
    const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    const ms = performance.now() - start;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr?.toString()}`);
    if (i > 0) times.push(ms); // the first run warms the page cache
  }
  return times;
}

/**
 * Runs a command `runs` times (after one warm-up) and returns each run's CPU time in ms (user +
 * system, from bash's `time`). On a shared, loaded machine wall time mostly measures the queue
 * for a core; CPU time measures the work, so its ratios hold whatever else runs.
 */
export function cpuCommand(
  cmd: string,
  args: readonly string[],
  runs: number,
  env: NodeJS.ProcessEnv = process.env,
): number[] {
  const times: number[] = [];
  // bash exits with the command's status; `time` writes "user system" to the group's stderr.
  const script = 'TIMEFORMAT="%3U %3S"; { time "$@" >/dev/null 2>/dev/null; } 2>&1';
  for (let i = 0; i < runs + 1; i++) {
    const r = spawnSync("bash", ["-c", script, "bash", cmd, ...args], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
    const m = /^(\d+\.\d+) (\d+\.\d+)\s*$/m.exec(r.stdout);
    if (m === null) throw new Error(`${cmd} ${args.join(" ")}: no timing in ${JSON.stringify(r.stdout)}`);
    if (i > 0) times.push((Number(m[1]) + Number(m[2])) * 1000);
  }
  return times;
}

export interface BenchRow {
  name: string;
  /** Median of the measured value. */
  median: number;
  unit: string;
  /** Ratio against the in-run baseline (how many times the baseline), when there is one. */
  ratio?: number;
  runs: number;
  note?: string;
}

/** Prints one benchmark's table and records it for bench/run.ts (`GREENTIC_BENCH_OUT`). */
export function report(title: string, baseline: string | undefined, rows: readonly BenchRow[]): void {
  const lines = [`\n## ${title}${baseline ? `  (baseline: ${baseline})` : ""}`];
  const width = Math.max(...rows.map((r) => r.name.length), 4);
  lines.push(`${"case".padEnd(width)}  ${"median".padStart(12)}  ${"ratio".padStart(8)}  runs  note`);
  for (const r of rows) {
    const value = `${r.median >= 100 ? r.median.toFixed(0) : r.median.toFixed(2)} ${r.unit}`;
    const ratio = r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`;
    lines.push(
      `${r.name.padEnd(width)}  ${value.padStart(12)}  ${ratio.padStart(8)}  ${String(r.runs).padStart(4)}  ${r.note ?? ""}`,
    );
  }
  console.log(lines.join("\n"));
  const out = process.env.GREENTIC_BENCH_OUT;
  if (out) {
    // Appending one JSON line per bench keeps concurrent writers from clobbering each other.
    void import("node:fs").then((fs) => fs.appendFileSync(out, `${JSON.stringify({ title, baseline, rows })}\n`));
  }
}

/** A wrk script whose every request waits `delayMs` first (written once per delay, under the OS temp dir). */
function pacingScript(delayMs: number): string {
  const file = join(tmpdir(), `greentic-bench-wrk-delay-${delayMs}.lua`);
  writeFileSync(file, `function delay()\n  return ${delayMs}\nend\n`);
  return file;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/**
 * One wrk run (`-t2`): requests/s and p99 latency in ms; any socket error or non-2xx fails it.
 * `cpus` runs wrk under `taskset -c CPUS` (a bench that pins what it measures). `rate` paces it:
 * each connection waits before its next request so that all of them together offer about `rate`
 * requests/s (wrk's `delay()` hook, whole milliseconds), instead of sending as fast as the server
 * answers. Latency compared at one offered rate below saturation is the time a hop adds; at
 * saturation it is mostly queueing (connections / throughput, Little's law).
 */
export function wrk(
  url: string,
  options: { seconds: number; connections: number; cpus?: string; rate?: number },
): { rps: number; p99: number } {
  const args = ["-t2", `-c${options.connections}`, `-d${options.seconds}s`, "--latency"];
  if (options.rate !== undefined) {
    const delayMs = Math.max(1, Math.round((options.connections * 1000) / options.rate));
    args.push("-s", pacingScript(delayMs));
  }
  args.push(url);
  const out =
    options.cpus === undefined
      ? execFileSync("wrk", args, { encoding: "utf8" })
      : execFileSync("taskset", ["-c", options.cpus, "wrk", ...args], { encoding: "utf8" });
  if (/Non-2xx|Socket errors/.test(out)) throw new Error(`wrk saw errors against ${url}:\n${out}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
  const [, value, unit] = /99%\s+([\d.]+)(us|ms|s)/.exec(out)!;
  return { rps, p99: Number(value) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1) };
}
