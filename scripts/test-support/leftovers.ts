// What a test run started and must not leave behind: the local runtimes and routers of `op`
// stores, testbed machines, PostgreSQL clusters. They are detached (own session or process
// group), so nothing stops them when the test worker that started them is killed: a timed-out or
// interrupted run, a crashed worker. Every helper that creates such a directory tracks it here;
// it releases the directory once it has stopped what runs there itself (afterAll, onTestFinished).
// Tracked directories are files in the run's registry (GREENTIC_TEST_LEFTOVERS, made by the
// global setup), so the vitest main process can stop what a worker left: at the global teardown,
// and on SIGINT, SIGTERM or exit of the main process.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

/** The environment variable naming the run's registry directory. */
export const LEFTOVERS_ENV = "GREENTIC_TEST_LEFTOVERS";

export interface Tracked {
  /** Every process whose command line or environment names a path under `dir` is stopped. */
  dir: string;
  /** cgroup directories whose processes are stopped, then removed (a testbed's whole machine). */
  cgroups?: string[];
  /** Remove `dir` after stopping (default true). */
  remove?: boolean;
}

function entryFile(registry: string, dir: string): string {
  return join(registry, `${createHash("sha256").update(dir).digest("hex").slice(0, 24)}.json`);
}

/** Records `dir` as holding processes of this run; a no-op outside a vitest run with the global setup. */
export function track(entry: Tracked, env: NodeJS.ProcessEnv = process.env): void {
  const registry = env[LEFTOVERS_ENV];
  if (!registry || !existsSync(registry)) return;
  writeFileSync(entryFile(registry, entry.dir), `${JSON.stringify(entry)}\n`);
}

/** `dir` no longer needs stopping (its owner stopped its processes and removed it). */
export function release(dir: string, env: NodeJS.ProcessEnv = process.env): void {
  const registry = env[LEFTOVERS_ENV];
  if (!registry) return;
  rmSync(entryFile(registry, dir), { force: true });
}

/** The tracked entries still in `registry`. */
export function trackedIn(registry: string): Tracked[] {
  if (!existsSync(registry)) return [];
  return readdirSync(registry)
    .filter((name) => name.endsWith(".json"))
    .flatMap((name) => {
      try {
        return [JSON.parse(readFileSync(join(registry, name), "utf8")) as Tracked];
      } catch {
        return []; // written half (a worker killed mid-write): nothing to go by
      }
    });
}

/** PIDs (not this process) whose command line or environment names a path under one of `dirs`. */
export function processesUnder(dirs: readonly string[]): number[] {
  const needles = dirs.map((d) => `${d.replace(/\/+$/, "")}/`);
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let seen: string;
    try {
      seen = `${readFileSync(`/proc/${entry}/cmdline`, "utf8")}\0${readFileSync(`/proc/${entry}/environ`, "utf8")}\0`;
    } catch {
      continue; // gone meanwhile
    }
    if (needles.some((n) => seen.includes(n) || seen.includes(`${n.slice(0, -1)}\0`))) pids.push(Number(entry));
  }
  return pids;
}

function cgroupProcesses(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const pids: number[] = [];
  try {
    for (const line of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) if (line) pids.push(Number(line));
    for (const sub of readdirSync(dir, { withFileTypes: true }))
      if (sub.isDirectory()) pids.push(...cgroupProcesses(join(dir, sub.name)));
  } catch {
    // removed meanwhile
  }
  return pids;
}

function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    for (const sub of readdirSync(dir, { withFileTypes: true }))
      if (sub.isDirectory()) removeCgroup(join(dir, sub.name));
    rmdirSync(dir);
  } catch {
    // still populated or gone
  }
}

/** True once `pid` has exited (gone, or a zombie its parent has not reaped yet). */
export function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** PIDs of every process `entries` name: by path under their directories, or in their cgroups. */
export function processesOf(entries: readonly Tracked[]): number[] {
  return [
    ...new Set([
      ...processesUnder(entries.map((e) => e.dir)),
      ...entries.flatMap((e) => (e.cgroups ?? []).flatMap(cgroupProcesses)),
    ]),
  ].filter((pid) => pid !== process.pid);
}

/**
 * Kills (SIGKILL) every process of `entries`, again until a pass finds none (a router can
 * restart a revision, a dying `op` start one, between two passes), then detaches loop devices
 * backed by files under the directories, removes the cgroups and the directories. Synchronous:
 * it runs from process exit hooks. Returns the PIDs killed.
 */
export function stopTracked(entries: readonly Tracked[]): number[] {
  const killed = new Set<number>();
  if (entries.length === 0) return [];
  for (let pass = 0; pass < 20; pass++) {
    const pids = processesOf(entries);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    sleepSync(100);
  }
  // A process killed here can outlast the pass that no longer finds it (its command line and
  // working directory go before it does, slowly on a loaded machine): wait until each is dead.
  for (const pid of killed) for (let wait = 0; wait < 50 && !exited(pid); wait++) sleepSync(100);
  const losetup = spawnSync("losetup", ["-nO", "NAME,BACK-FILE"], { encoding: "utf8" });
  for (const line of losetup.stdout?.split("\n") ?? []) {
    const [dev, file] = line.trim().split(/\s+/);
    if (dev && file && entries.some((e) => file.startsWith(`${e.dir}/`))) spawnSync("losetup", ["-d", dev]);
  }
  for (const e of entries) {
    for (const c of e.cgroups ?? []) removeCgroup(c);
    if (e.remove !== false) rmSync(e.dir, { recursive: true, force: true });
  }
  return [...killed];
}

/** Stops what is still tracked in `registry` and empties it; returns the entries it found. */
export function stopLeftovers(registry: string): Tracked[] {
  const entries = trackedIn(registry);
  stopTracked(entries);
  for (const name of existsSync(registry) ? readdirSync(registry) : []) {
    try {
      unlinkSync(join(registry, name));
    } catch {
      // gone
    }
  }
  return entries;
}
