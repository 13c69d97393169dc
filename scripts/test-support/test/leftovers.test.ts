// The leftovers registry (../leftovers.ts) through a real vitest run of a fixture that deploys
// with the `op` test helpers, starts a PostgreSQL cluster and boots a testbed: however the run
// ends early, what they started is gone once vitest has exited, and so are their files.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../../../apps/op/test/helpers.ts";
import { testbedUnavailable } from "../../testbed/testbed.ts";
import { exited, processesOf, stopTracked, type Tracked } from "../leftovers.ts";
import { pgSkip } from "../pg-cluster.ts";

const repo = resolve(import.meta.dirname, "../../..");
const vitest = join(repo, "node_modules", "vitest", "vitest.mjs");
const config = join(import.meta.dirname, "fixtures", "leftovers.vitest.config.ts");
const work = mkdtempSync(join(tmpdir(), "leftovers-test-"));
const started: Tracked[] = [];
afterAll(() => {
  // Should this test fail, what the fixture started must not outlive it either.
  stopTracked(started);
  rmSync(work, { recursive: true, force: true });
});

/** Alive and not a zombie (a killed orphan may wait for PID 1 to reap it). */
function alive(pid: number): boolean {
  return !exited(pid);
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Report {
  tracked: Tracked[];
  url: string;
  pids: number[];
  registry: string;
  testbed?: number;
}

/** Starts the fixture run; returns it once the fixture reported what it started. */
async function startFixture(mode: "hang" | "crash", name: string, withTestbed = false) {
  const report = join(work, `${name}.json`);
  const child = spawn(process.execPath, [vitest, "run", "--config", config], {
    cwd: repo,
    env: {
      ...process.env,
      LEFTOVERS_FIXTURE_MODE: mode,
      LEFTOVERS_FIXTURE_REPORT: report,
      LEFTOVERS_FIXTURE_TESTBED: withTestbed ? "1" : "",
      GREENTIC_TEST_BUILT: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code, signal) => r(code ?? (signal ? -1 : null))));
  await until(`the fixture's report (${report})`, () => existsSync(report) || child.exitCode !== null, 240_000);
  if (!existsSync(report)) throw new Error(`the fixture run ended before reporting:\n${output}`);
  const r = JSON.parse(readFileSync(report, "utf8")) as Report;
  started.push(...r.tracked);
  return { child, exited, report: r, output: () => output };
}

/** Nothing the fixture started runs, its directories and cgroups are gone, and so is the registry. */
function expectAllGone(r: Report, output: string): void {
  for (const pid of r.pids) expect(alive(pid), `pid ${pid}\n${output}`).toBe(false);
  expect(processesOf(r.tracked)).toEqual([]);
  for (const t of r.tracked) {
    expect(existsSync(t.dir), t.dir).toBe(false);
    for (const c of t.cgroups ?? []) expect(existsSync(c), c).toBe(false);
  }
  expect(r.registry).toMatch(/greentic-test-run-/);
  expect(existsSync(r.registry), r.registry).toBe(false);
}

// The three runs are independent child processes: side by side, they take the time of one.
describe.skipIf(pgSkip() ?? testbedUnavailable()).concurrent("processes a test run started do not outlive it", () => {
  for (const [signal, how] of [
    ["SIGINT", "interrupted (Ctrl-C)"],
    ["SIGTERM", "stopped by a time limit (timeout sends SIGTERM)"],
  ] as const)
    it(`${signal}: a run ${how} stops the runtime, the router and the cluster, and removes their files`, async () => {
      ensureBuilt();
      const run = await startFixture("hang", signal);
      // Running before: a runtime and a router in the store, the cluster's postmaster.
      expect(run.report.tracked).toHaveLength(2);
      expect(run.report.pids.length, JSON.stringify(run.report)).toBeGreaterThanOrEqual(3);
      for (const pid of run.report.pids) expect(alive(pid), `pid ${pid}`).toBe(true);
      expect((await fetch(run.report.url)).status).toBe(200);
      run.child.kill(signal);
      expect(await run.exited, run.output()).not.toBe(0);
      expectAllGone(run.report, run.output());
      await expect(fetch(run.report.url)).rejects.toThrow();
    }, 300_000);

  it("a worker killed mid-test: the teardown stops what it left (a testbed included) and says so", async () => {
    ensureBuilt();
    const run = await startFixture("crash", "crash", true);
    // The store, the cluster and the testbed, whose systemd (PID 1 inside) runs.
    expect(run.report.tracked).toHaveLength(3);
    expect(run.report.pids).toContain(run.report.testbed);
    expect(await run.exited, run.output()).toBe(1);
    expectAllGone(run.report, run.output());
    expect(run.output()).toContain("[leftovers] at the end of the run: stopped what 3 test directories still ran:");
    for (const t of run.report.tracked) expect(run.output()).toContain(t.dir);
  }, 300_000);
});
