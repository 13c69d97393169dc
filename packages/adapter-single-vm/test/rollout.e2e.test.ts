import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildBundle } from "@greentic/bundle";
import { bootTestbed, PROJECT_MOUNT, testbedUnavailable, type Testbed } from "../../../scripts/testbed/testbed.ts";
import { backendCounters, createHostExecutor, liveSplit, revisionLayout } from "../src/index.js";
import { freePort, specOf } from "./helpers.js";

const repo = join(import.meta.dirname, "../../..");
const unavailable = testbedUnavailable();
if (unavailable) console.warn(`single-vm rollout e2e skipped: ${unavailable}`);
if (!unavailable && !existsSync(join(repo, "apps/op/oclif.manifest.json")))
  throw new Error("build the workspace first (pnpm build): op runs inside the testbed");

interface OpResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** wrk (32 connections) until `stop()`, which interrupts it and resolves with its summary. */
function startLoad(url: string): { stop: () => Promise<{ requests: number; failures: string[]; text: string }> } {
  const child = spawn("wrk", ["-t2", "-c32", "-d600s", "--latency", url], { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (text += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (text += d));
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return {
    stop: async () => {
      // wrk prints its summary when interrupted.
      child.kill("SIGINT");
      await closed;
      const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
      return { requests, failures: text.split("\n").filter((l) => /Socket errors|Non-2xx/.test(l)), text };
    },
  };
}

/**
 * Progressive rollouts on one booted Debian 12 testbed: `op` runs inside the VM as an operator
 * would, the runner is a real systemd unit, HAProxy is real and so is the load (wrk, 32
 * connections). The revisions run behind the fault-injecting fixture runtime, which answers
 * like the real runtime until a fault is switched on for one revision.
 */
describe.skipIf(unavailable !== undefined)("progressive rollout on the VM, Debian 12 (bookworm)", () => {
  let tb: Testbed;
  let publicPort = 0;
  let revisionBase = 0;
  let url = "";
  let deploymentId = "";
  const rev: string[] = [];
  const specPath = "/etc/greentic/hello/deployment.yaml";
  const scratch = mkdtempSync(join(tmpdir(), "gt-rollout-e2e-"));
  // Stopping waits up to 30 s for the machine to shut down (longer once it has rebooted).
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await tb?.stop();
  }, 60_000);

  const specDoc = (): Record<string, any> => ({
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name: "hello" },
    spec: {
      runtime: {
        binary: `${PROJECT_MOUNT}/fixtures/runtimes/fault-injecting-runtime.mjs`,
        publicBind: `127.0.0.1:${publicPort}`,
      },
      health: { startupTimeoutSeconds: 60 },
      rollout: { strategy: "canary", drainSeconds: 5, revisionPorts: `${revisionBase}-${revisionBase + 40}` },
    },
  });
  const vmSpec = () =>
    specOf({ ...specDoc(), spec: { ...specDoc().spec, bundle: { source: "/srv/bundles/hello-1.gtbundle" } } });
  const exec = () => createHostExecutor({ nsenterPid: tb.pid });
  const live = () => liveSplit(exec(), vmSpec());
  const op = (...args: string[]): OpResult => {
    const r = tb.run(
      "env",
      ["GREENTIC_HOME=/root/greentic", "NO_COLOR=1", "/usr/bin/node", `${PROJECT_MOUNT}/apps/op/bin/run.js`, ...args],
      { timeoutMs: 180_000 },
    );
    let json: any = null;
    try {
      json = JSON.parse(r.stdout || r.stderr);
    } catch {
      // not --json
    }
    return { ...r, json };
  };
  const ok = (...args: string[]): any => {
    const r = op(...args, "--json");
    if (r.code !== 0) {
      const journal = tb.run("journalctl", ["-n", "60", "--no-pager", "-u", "greentic-*"]).stdout;
      throw new Error(`op ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}\njournal:\n${journal}`);
    }
    return r.json.result;
  };
  /** The rollout's record as `op rollout status` shows it, polled until `done` holds. */
  const until = async (id: string, done: (s: any) => boolean, timeoutMs = 120_000): Promise<any> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = ok("rollout", "status", "prod", id);
      if (done(s)) return s;
      if (Date.now() > deadline) throw new Error(`rollout ${id} never got there: ${JSON.stringify(s.rollout)}`);
      await sleep(500);
    }
  };
  const runnerPid = () => Number(tb.sh("systemctl show -p MainPID --value greentic-rollout-prod.service").trim());
  const fault = (revision: string, value: object | null) => {
    const dir = `${tb.root}/etc/greentic-fault`;
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (value === null) rmSync(`${dir}/${revision}.json`, { force: true });
    else writeFileSync(`${dir}/${revision}.json`, JSON.stringify(value), { mode: 0o644 });
  };
  /** Polls HAProxy's live map until the candidate has no weight; the ms it took. */
  const untilBackOnStable = async (candidate: string, from: number, timeoutMs = 60_000): Promise<number> => {
    for (;;) {
      const split = await live();
      if (!split.some((e) => e.revision_id === candidate)) return Date.now() - from;
      if (Date.now() - from > timeoutMs) throw new Error(`still ${JSON.stringify(split)} after ${timeoutMs} ms`);
      await sleep(25);
    }
  };

  it("boots, binds prod to the VM and deploys v1 at 100 % behind HAProxy", { timeout: 600_000 }, async () => {
    tb = await bootTestbed({ name: `gtbrollout${process.pid}`, suite: "bookworm" });
    publicPort = await freePort();
    // Below the ephemeral range (32768-60999): the fixture runtime binds its inner listeners there.
    revisionBase = 20_000 + Math.floor(Math.random() * 12_000);
    url = `http://127.0.0.1:${publicPort}/`;
    mkdirSync(`${tb.root}/srv/bundles`, { recursive: true });
    for (const [n, source] of [
      [1, "hello"],
      [2, "hello-v2"],
      [3, "hello"],
      [4, "hello"],
      [5, "hello"],
    ] as const) {
      // A copy per version: the bundle ids and versions differ, so do the digests.
      const src = join(scratch, `src-${n}`);
      cpSync(join(repo, "fixtures/bundles", source), src, { recursive: true });
      await buildBundle({
        sourceDir: src,
        outFile: `${tb.root}/srv/bundles/hello-${n}.gtbundle`,
        bundleId: "hello",
        version: `${n}.0.0`,
      });
    }
    mkdirSync(`${tb.root}/etc/greentic/hello`, { recursive: true });
    writeFileSync(`${tb.root}${specPath}`, stringify(specDoc()));
    ok("env", "init", "prod", "--deployer", "single-vm", "--spec", specPath);
    const d1 = ok("deploy", "--env", "prod", "--bundle", "/srv/bundles/hello-1.gtbundle", "--customer-id", "acme");
    deploymentId = d1.deployment_id;
    rev.push(d1.revision_id);
    expect(await live()).toEqual([{ revision_id: rev[0], weight_bps: 10_000 }]);
  });

  it("refuses a bad start before anything changes: no other revision to roll back to (3), bad steps (2)", {
    timeout: 120_000,
  }, async () => {
    const none = op("rollout", "start", "prod", "--to", rev[0]!, "--json");
    expect({ code: none.code, message: none.json?.error?.message }).toEqual({
      code: 3,
      message: `--to: deployment ${deploymentId} has no other revision taking traffic to roll back to`,
    });
    const steps = op("rollout", "start", "prod", "--to", rev[0]!, "--steps", "1,25,5,100");
    expect(steps.code).toBe(2);
    expect(steps.stderr).toContain("--steps 1,25,5,100: 5 does not come after 25 (steps must increase)");
    expect(op("rollout", "status", "prod").code).toBe(4);
    expect(await live()).toEqual([{ revision_id: rev[0], weight_bps: 10_000 }]);
    expect(tb.run("systemctl", ["cat", "greentic-rollout-prod.service"]).code).not.toBe(0);
  });

  it("1→5→25→100 under wrk load reaches 100 %: exact weights in HAProxy and the store at each step, a kill -9 of the runner and a pause change nothing, no request fails", {
    timeout: 400_000,
  }, async () => {
    const d2 = ok(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      "/srv/bundles/hello-2.gtbundle",
      "--customer-id",
      "acme",
      "--traffic",
      "1",
    );
    rev.push(d2.revision_id);
    const [r1, r2] = rev as [string, string];
    const load = startLoad(url);
    await sleep(1_000);
    const started = Date.now();
    const start = ok(
      "rollout",
      "start",
      "prod",
      "--to",
      r2,
      "--steps",
      "1,5,25,100",
      "--interval",
      "8s",
      "--max-error-rate",
      "1%",
      "--idempotency-key",
      "good-1",
    );
    const startMs = Date.now() - started;
    const id: string = start.rollout.rollout_id;
    expect(start).toMatchObject({
      idempotency: "applied",
      runner_unit: "greentic-rollout-prod.service",
      rollout: {
        status: "running",
        stable_revision_id: r1,
        candidate_revision_id: r2,
        steps_bps: [100, 500, 2_500, 10_000],
        interval_ms: 8_000,
        max_error_rate: 0.01,
      },
    });
    // A retry with the same key answers the same rollout; another start is refused and named.
    expect(
      ok(
        "rollout",
        "start",
        "prod",
        "--to",
        r2,
        "--steps",
        "1,5,25,100",
        "--interval",
        "8s",
        "--max-error-rate",
        "1%",
        "--idempotency-key",
        "good-1",
      ),
    ).toMatchObject({
      idempotency: "replayed",
      rollout: { rollout_id: id },
    });
    const second = op("rollout", "start", "prod", "--to", r2, "--json");
    expect(second.code).toBe(3);
    expect(second.json.error.message).toBe(`rollout ${id} (to ${r2}) is running in environment prod`);

    // Step 2 (5 %): exactly 9500/500 bps in the store and live; then kill -9 the runner.
    const atFive = await until(id, (s) => s.rollout.applied_step === 1);
    expect(await live()).toEqual([
      { revision_id: r1, weight_bps: 9_500 },
      { revision_id: r2, weight_bps: 500 },
    ]);
    expect(atFive.split).toEqual([
      { revision_id: r1, weight_bps: 9_500 },
      { revision_id: r2, weight_bps: 500 },
    ]);
    const pid = runnerPid();
    expect(pid).toBeGreaterThan(0);
    tb.sh(`kill -9 ${pid}`);
    const restartDeadline = Date.now() + 30_000;
    while (!(runnerPid() > 0 && runnerPid() !== pid)) {
      if (Date.now() > restartDeadline) throw new Error("the runner was not restarted");
      await sleep(200);
    }
    // systemd saw its main process killed and restarted it (not a clean exit).
    expect(tb.sh("journalctl --no-pager -u greentic-rollout-prod.service")).toMatch(
      /Main process exited, code=killed, status=9\/KILL/,
    );

    // Pause at step 3 (25 %): it stays there past its bake time, then resumes.
    await until(id, (s) => s.rollout.applied_step === 2);
    const paused = ok("rollout", "pause", "prod");
    expect(paused).toMatchObject({ changed: true, rollout: { rollout_id: id, status: "paused", step_index: 2 } });
    expect(ok("rollout", "pause", "prod", id)).toMatchObject({ changed: false, rollout: { status: "paused" } });
    await sleep(10_000);
    const held = ok("rollout", "status", "prod");
    expect(held).toMatchObject({ rollout: { status: "paused", step_index: 2, applied_step: 2 } });
    expect(held.split).toEqual([
      { revision_id: r1, weight_bps: 7_500 },
      { revision_id: r2, weight_bps: 2_500 },
    ]);
    expect(held.observed.requests).toBeGreaterThan(0);
    expect(held.observed.errors_5xx).toBe(0);
    expect(held.observed.ready).toBe(true);
    expect(await live()).toEqual([
      { revision_id: r1, weight_bps: 7_500 },
      { revision_id: r2, weight_bps: 2_500 },
    ]);
    expect(ok("rollout", "resume", "prod", id)).toMatchObject({ changed: true, rollout: { status: "running" } });

    const done = await until(id, (s) => s.rollout.status === "succeeded");
    expect(done.rollout.measurements.map((m: any) => [m.step_bps, m.errors_5xx, m.ready])).toEqual([
      [100, 0, true],
      [500, 0, true],
      [2_500, 0, true],
      [10_000, 0, true],
    ]);
    // Judged on evidence: every step saw at least 20 candidate requests (wrk runs past the end).
    expect(
      done.rollout.measurements.map((m: any) => m.requests >= 20),
      JSON.stringify(done.rollout.measurements),
    ).toEqual([true, true, true, true]);
    expect(done.split).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    expect(await live()).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    const result = await load.stop();
    expect(result.requests, result.text).toBeGreaterThan(1_000);
    expect(result.failures, result.text).toEqual([]);
    // The runner ends with the rollout and stays stopped.
    await sleep(1_500);
    expect(tb.run("systemctl", ["is-active", "greentic-rollout-prod.service"]).stdout.trim()).toBe("inactive");
    const verbs = ok("audit", "list", "prod", "--noun", "rollout").events.map((e: any) => e.verb);
    expect(verbs.filter((v: string) => v !== "step" && v !== "advance")).toEqual([
      "start",
      "pause",
      "resume",
      "complete",
    ]);
    expect(verbs.filter((v: string) => v === "advance")).toHaveLength(3);
    console.log(`rollout start answered in ${startMs} ms (runner unit started)`);
  });

  it("a candidate that starts answering 500 to 20 % of requests is aborted at its first step: all traffic back on stable, the figures recorded and audited, no request to it afterwards", {
    timeout: 300_000,
  }, async () => {
    const d3 = ok(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      "/srv/bundles/hello-3.gtbundle",
      "--customer-id",
      "acme",
      "--traffic",
      "1",
    );
    rev.push(d3.revision_id);
    const [, r2, r3] = rev as [string, string, string];
    const id = ok(
      "rollout",
      "start",
      "prod",
      "--to",
      r3,
      "--steps",
      "5,50,100",
      "--interval",
      "60s",
      "--max-error-rate",
      "1%",
    ).rollout.rollout_id as string;
    await until(id, (s) => s.rollout.applied_step === 0);
    expect(await live()).toEqual([
      { revision_id: r2, weight_bps: 9_500 },
      { revision_id: r3, weight_bps: 500 },
    ]);
    // Load from here: the candidate's 5 % must see enough requests for a verdict.
    const load = startLoad(url);
    await sleep(500);
    const injected = Date.now();
    fault(r3, { percent: 20, status: 500 });
    const backMs = await untilBackOnStable(r3, injected);
    expect(await live()).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    await sleep(300);
    const servedAtAbort = (await backendCounters(exec(), vmSpec())).find((c) => c.revision_id === r3)!.requests;
    const failed = await until(id, (s) => s.rollout.status === "failed" && s.rollout.traffic_restored);
    expect(failed.rollout.failure.reason).toMatch(/^5xx rate \d+\.\d\d% \(\d+ of \d+ requests\) above 1\.00%$/);
    expect(failed.rollout.failure.step_bps).toBe(500);
    expect(failed.rollout.failure.figures.requests).toBeGreaterThanOrEqual(20);
    expect(failed.rollout.failure.figures.error_rate).toBeGreaterThan(0.01);
    expect(failed.split).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    await sleep(3_000);
    const result = await load.stop();
    // HAProxy's own counter for the candidate stood still under load after the abort.
    expect((await backendCounters(exec(), vmSpec())).find((c) => c.revision_id === r3)!.requests).toBe(servedAtAbort);
    expect(result.requests).toBeGreaterThan(1_000);
    const events = ok("audit", "list", "prod", "--noun", "rollout").events;
    const fail = events.find((e: any) => e.verb === "fail" && e.target?.rollout_id === id);
    expect(fail.target).toMatchObject({
      candidate_revision_id: r3,
      stable_revision_id: r2,
      status: "failed",
      reason: failed.rollout.failure.reason,
    });
    // The candidate becomes `failed` only once all traffic is back on stable, in that event.
    const restored = events.find((e: any) => e.verb === "traffic-restored" && e.target?.rollout_id === id);
    expect(restored.target).toEqual({
      rollout_id: id,
      deployment_id: deploymentId,
      stable_revision_id: r2,
      candidate_revision_id: r3,
      status: "failed",
      step_bps: 500,
      candidate_status: "failed",
      candidate_lifecycle: { from: "ready", to: "failed" },
      reason: failed.rollout.failure.reason,
      figures: failed.rollout.failure.figures,
    });
    expect(ok("revisions", "show", "prod", r3).revision.lifecycle).toBe("failed");
    expect(op("rollout", "abort", "prod", id).code).toBe(3);
    console.log(`5xx fault injected -> all traffic back on stable: ${backMs} ms`);
    expect(backMs).toBeLessThan(10_000);
    fault(r3, null);
  });

  it("the failed candidate is not drained (no failed → draining in the lifecycle) but archived: its unit stops, its mount, bundle copy and certificates go", {
    timeout: 300_000,
  }, async () => {
    const [, r2, r3] = rev as [string, string, string];
    const unit = `greentic-hello-${r3}.service`;
    const l = revisionLayout(vmSpec(), r3);
    // Failed, without traffic, and still running until archived.
    expect(tb.run("systemctl", ["is-active", unit]).stdout.trim()).toBe("active");
    expect(existsSync(`${tb.root}${l.certDir}`)).toBe(true);
    const drain = op("revisions", "drain", "prod", r3);
    expect(drain.code).toBe(3);
    expect(drain.stderr).toContain(`revision ${r3} is failed; drain expects one of [ready]`);
    expect(drain.stderr).toContain(
      `a failed revision is not drained: archive it (\`op revisions archive prod ${r3}\`), which stops it and removes its files`,
    );
    expect(ok("revisions", "show", "prod", r3).revision.lifecycle).toBe("failed");
    const archived = ok("revisions", "archive", "prod", r3);
    expect(archived.revision).toMatchObject({ revision_id: r3, lifecycle: "archived" });
    expect(tb.run("systemctl", ["is-active", unit]).stdout.trim()).toBe("inactive");
    expect(tb.run("systemctl", ["is-active", l.mountUnit]).stdout.trim()).toBe("inactive");
    for (const path of [l.mountPath, l.certDir, l.clientDir, l.revisionStateDir])
      expect(existsSync(`${tb.root}${path}`), path).toBe(false);
    expect(tb.sh("cat /etc/greentic/hello/proxy/haproxy.cfg")).not.toContain(`r_${r3}`);
    expect(await live()).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    // A fresh candidate for the next rollouts (hello-4, a new digest: nothing reused).
    const d4 = ok(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      "/srv/bundles/hello-4.gtbundle",
      "--customer-id",
      "acme",
      "--traffic",
      "1",
    );
    rev[2] = d4.revision_id;
    ok("traffic", "set", "prod", `${r2}=100`, "--deployment", deploymentId, "--idempotency-key", "stable-before-4");
  });

  it("start --wait on a candidate whose /ready fails: aborted after 3 failed checks, exit 1 with the record", {
    timeout: 300_000,
  }, async () => {
    const [, r2, r3] = rev as [string, string, string];
    fault(r3, { ready: false });
    const r = op("rollout", "start", "prod", "--to", r3, "--steps", "5,100", "--interval", "60s", "--wait", "--json");
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: "" });
    const failed = r.json.result.rollout;
    expect(failed).toMatchObject({ status: "failed", traffic_restored: true, applied_step: 0 });
    expect(failed.failure.reason).toMatch(/^not ready in 3 checks in a row: \/ready answered /);
    expect(failed.failure.figures.ready).toBe(false);
    expect(await live()).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    expect(ok("traffic", "show", "prod").splits[0].entries).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    // From the step going live (the fault was already there) to all traffic recorded back on stable.
    const backMs = Date.parse(failed.updated_at) - Date.parse(failed.step_started_at);
    console.log(`/ready failing -> all traffic back on stable: ${backMs} ms after the step went live`);
    expect(backMs).toBeLessThan(15_000);
    expect(ok("revisions", "show", "prod", r3).revision.lifecycle).toBe("failed");
    expect(ok("revisions", "archive", "prod", r3).revision.lifecycle).toBe("archived");
    expect(tb.run("systemctl", ["is-active", `greentic-hello-${r3}.service`]).stdout.trim()).toBe("inactive");
    const d5 = ok(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      "/srv/bundles/hello-5.gtbundle",
      "--customer-id",
      "acme",
      "--traffic",
      "1",
    );
    rev[2] = d5.revision_id;
    ok("traffic", "set", "prod", `${r2}=100`, "--deployment", deploymentId, "--idempotency-key", "stable-before-5");
  });

  it("the commands of docs/single-vm.md, as written: start to latest, status, pause, resume, abort (traffic back at once); destroy removes the runner unit", {
    timeout: 300_000,
  }, async () => {
    const [, r2, r3] = rev as [string, string, string];
    fault(r3, null);
    const human = (...args: string[]) => {
      const r = op(...args);
      expect({ args, code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
      return r.stdout;
    };
    const started = human(
      ..."rollout start prod --to latest --steps 1,5,25,100 --interval 2m --max-error-rate 1% --max-p99 800ms".split(
        " ",
      ),
    );
    const id = /^Rollout (\S{26}) recorded/.exec(started)![1]!;
    expect(started).toContain(`${r2} (stable) -> ${r3} (candidate)`);
    expect(started).toContain("steps [1%] 5% 25% 100%, 120s each; limits: 5xx 1.00%, p99 800 ms");
    await until(id, (s) => s.rollout.applied_step === 0);
    expect(await live()).toEqual([
      { revision_id: r2, weight_bps: 9_900 },
      { revision_id: r3, weight_bps: 100 },
    ]);
    expect(human("rollout", "status", "prod")).toContain(`split now: ${r2}=99% ${r3}=1%`);
    expect(human("rollout", "pause", "prod")).toContain(`Rollout ${id} in prod: paused`);
    expect(human("rollout", "resume", "prod")).toContain(`Rollout ${id} in prod: running`);

    // A reboot of the VM mid-rollout: the runner (an enabled unit) starts again and resumes from
    // its record; HAProxy comes back on the recorded split and shows no other at any sample.
    const recorded = [
      { revision_id: r2, weight_bps: 9_900 },
      { revision_id: r3, weight_bps: 100 },
    ];
    await tb.reboot();
    const units = ["greentic-hello-proxy.service", `greentic-hello-${r2}.service`, `greentic-hello-${r3}.service`];
    const upBy = Date.now() + 60_000;
    while (tb.run("systemctl", ["is-active", ...units, "greentic-rollout-prod.service"]).code !== 0) {
      if (Date.now() > upBy) throw new Error(`not back after the reboot: ${tb.sh("systemctl --failed --no-legend")}`);
      await sleep(250);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const now = await live().catch(() => null);
      if (now !== null) seen.add(JSON.stringify(now));
      await sleep(250);
    }
    expect([...seen]).toEqual([JSON.stringify(recorded)]);
    // The resumed runner judges the candidate again (ready once it listens) and keeps the step.
    const resumed = await until(id, (s) => s.observed?.ready === true, 60_000);
    expect(resumed.rollout).toMatchObject({ status: "running", step_index: 0, applied_step: 0 });
    expect(resumed.split).toEqual(recorded);
    expect(await live()).toEqual(recorded);
    expect(tb.run("systemctl", ["is-active", "greentic-rollout-prod.service"]).stdout.trim()).toBe("active");
    expect(human("rollout", "abort", "prod")).toContain(`stopped: aborted by `);
    expect(await live()).toEqual([{ revision_id: r2, weight_bps: 10_000 }]);
    const all = JSON.parse(human("rollout", "status", "prod", "--all", "--json")).result.rollouts;
    expect(all.map((r: any) => [r.status, r.traffic_restored])).toEqual([
      ["aborted", true],
      ["failed", true],
      ["failed", true],
      ["succeeded", false],
    ]);
    expect(ok("rollout", "abort", "prod", id)).toMatchObject({ changed: false });
    expect(op("rollout", "resume", "prod", id).code).toBe(3);
    ok("env", "destroy", "prod", "--confirm");
    expect(tb.run("systemctl", ["cat", "greentic-rollout-prod.service"]).code).not.toBe(0);
    expect(tb.sh("systemctl list-units --all --no-legend 'greentic-*'").trim()).toBe("");
  });
});
