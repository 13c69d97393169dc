import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { stringify } from "yaml";
import type { DeploymentSpec } from "@greentic/deploy-spec";
import { buildBundle } from "@greentic/bundle";
import { bootTestbed, PROJECT_MOUNT, type Testbed } from "../../../scripts/testbed/testbed.ts";
import { createHostExecutor, liveSplit, planDeployment, type HostExecutor } from "../src/index.js";
import { freePort, specOf } from "./helpers.js";

const repo = join(import.meta.dirname, "../../..");

/** Result of one `op` run inside the testbed. */
export interface OpResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

/** GETs `url` `n` times over `concurrency` keep-alive connections; counts bodies by a marker. */
export async function countVersions(
  url: string,
  n: number,
  concurrency = 16,
  /** What each version's body contains (default: the hello fixtures'). */
  markers: { v1: string; v2: string } = { v1: "version 1", v2: "(v2)" },
): Promise<{ v1: number; v2: number; failed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const counts = { v1: 0, v2: 0, failed: 0 };
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request(url, { agent }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          if (res.statusCode !== 200) counts.failed++;
          else if (body.includes(markers.v2)) counts.v2++;
          else if (body.includes(markers.v1)) counts.v1++;
          else counts.failed++;
          resolve();
        });
      });
      req.on("error", () => {
        counts.failed++;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await one();
      }
    }),
  );
  agent.destroy();
  return counts;
}

/** wrk's own error counters (its `summary.errors`), read exactly through a `done` hook. */
export interface WrkErrors {
  connect: number;
  read: number;
  write: number;
  /** Responses with a status of 400 or above. */
  status: number;
  timeout: number;
}

/** Prints wrk's summary as one JSON line, so counts of 0 are stated rather than inferred. */
const WRK_REPORT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nGT_WRK {"requests":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p99_us":%d}\\n',
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(99)))
end
`;

/** wrk in the background; resolves with its summary once it ends. */
export function startWrk(
  url: string,
  seconds: number,
  connections = 32,
): Promise<{ requests: number; errors: WrkErrors; p99_us: number; text: string }> {
  const dir = mkdtempSync(join(tmpdir(), "gt-wrk-"));
  const script = join(dir, "report.lua");
  writeFileSync(script, WRK_REPORT);
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, "-s", script, url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (text += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (text += d));
    child.on("error", reject);
    child.on("close", () => {
      rmSync(dir, { recursive: true, force: true });
      const line = /^GT_WRK (\{.*\})$/m.exec(text)?.[1];
      if (line === undefined) return reject(new Error(`wrk printed no summary:\n${text}`));
      const { requests, p99_us, ...errors } = JSON.parse(line) as WrkErrors & { requests: number; p99_us: number };
      resolve({ requests, errors, p99_us, text });
    });
  });
}

/** No error of any kind. */
export const NO_WRK_ERRORS: WrkErrors = { connect: 0, read: 0, write: 0, status: 0, timeout: 0 };

/** What a scenario's extra phases can reach once the first phases ran. */
export interface CanaryScenarioContext {
  readonly tb: Testbed;
  readonly url: string;
  readonly deploymentId: string;
  readonly r1: string;
  readonly r2: string;
  op(...args: string[]): OpResult;
  ok(...args: string[]): OpResult;
  /** Runs `op` inside the testbed with extra environment variables and node options. */
  opWith(env: Record<string, string>, nodeArgs: string[], ...args: string[]): OpResult;
  exec(): HostExecutor;
  vmSpec(): DeploymentSpec;
}

/**
 * Every canary scenario on one booted testbed (one boot per suite keeps CI short): `op` runs
 * inside the VM as an operator would, HAProxy and the revision units are real.
 */
export function canaryScenario(
  suite: "bookworm" | "trixie",
  options: {
    /** Seconds of wrk load while the split moves (default $GREENTIC_CANARY_LOAD_SECONDS, else 20). */
    loadSeconds?: number;
    /** More phases, run on the same machine after the bad-input phase and before the load phase. */
    extra?: (ctx: CanaryScenarioContext) => void;
    /** Phases run last, before the destroy phase (r2 drained, r1 at 100 %). */
    beforeDestroy?: (ctx: CanaryScenarioContext) => void;
  } = {},
): void {
  let tb: Testbed;
  let publicPort: number;
  let url: string;
  const specPath = "/etc/greentic/hello/deployment.yaml";
  const opWith = (env: Record<string, string>, nodeArgs: string[], ...args: string[]): OpResult => {
    const r = tb.run(
      "env",
      [
        "GREENTIC_HOME=/root/greentic",
        "NO_COLOR=1",
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        "/usr/bin/node",
        ...nodeArgs,
        `${PROJECT_MOUNT}/apps/op/bin/run.js`,
        ...args,
      ],
      { timeoutMs: 180_000 },
    );
    let json: any = null;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      // not --json
    }
    return { ...r, json };
  };
  const op = (...args: string[]): OpResult => opWith({}, [], ...args);
  const ok = (...args: string[]): OpResult => {
    const r = op(...args);
    if (r.code !== 0) {
      const journal = tb.run("journalctl", ["-n", "40", "--no-pager", "-u", "greentic-hello-*"]).stdout;
      throw new Error(`op ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}\njournal:\n${journal}`);
    }
    return r;
  };
  let deploymentId = "";
  let r1 = "";
  let r2 = "";
  const exec = () => createHostExecutor({ nsenterPid: tb.pid });
  const vmSpec = () =>
    specOf({ ...specDoc(), spec: { ...specDoc().spec, bundle: { source: "/srv/bundles/hello-1.gtbundle" } } });
  let revisionBase = 0;
  const specDoc = (): Record<string, any> => ({
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name: "hello" },
    spec: {
      runtime: { binary: `${PROJECT_MOUNT}/packages/runtime/dist/bin.js`, publicBind: `127.0.0.1:${publicPort}` },
      health: { startupTimeoutSeconds: 60 },
      rollout: { strategy: "canary", drainSeconds: 5, revisionPorts: `${revisionBase}-${revisionBase + 40}` },
    },
  });

  it(`boots ${suite}, binds prod to the VM and deploys v1 at 100 % behind HAProxy`, { timeout: 600_000 }, async () => {
    tb = await bootTestbed({ name: `gtbcanary${suite.slice(0, 3)}${process.pid}`, suite });
    publicPort = await freePort();
    // Below the kernel's ephemeral range (32768 and up), where other processes' client sockets sit.
    revisionBase = 20_000 + Math.floor(Math.random() * 12_000);
    url = `http://127.0.0.1:${publicPort}/`;
    mkdirSync(`${tb.root}/srv/bundles`, { recursive: true });
    await buildBundle({
      sourceDir: join(repo, "fixtures/bundles/hello"),
      outFile: `${tb.root}/srv/bundles/hello-1.gtbundle`,
      bundleId: "hello",
      version: "1.0.0",
    });
    await buildBundle({
      sourceDir: join(repo, "fixtures/bundles/hello-v2"),
      outFile: `${tb.root}/srv/bundles/hello-2.gtbundle`,
      bundleId: "hello",
      version: "2.0.0",
    });
    mkdirSync(`${tb.root}/etc/greentic/hello`, { recursive: true });
    writeFileSync(`${tb.root}${specPath}`, stringify(specDoc()));

    const init = ok("env", "init", "prod", "--deployer", "single-vm", "--spec", specPath, "--json");
    expect(init.json.result).toMatchObject({
      environment_id: "prod",
      outcome: "created",
      deployer: "greentic.deployer.single-vm@0.1.0",
    });
    const d1 = ok(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      "/srv/bundles/hello-1.gtbundle",
      "--bundle-id",
      "hello",
      "--customer-id",
      "acme",
      "--json",
    );
    deploymentId = d1.json.result.deployment_id;
    r1 = d1.json.result.revision_id;
    expect(d1.json.result).toMatchObject({ traffic_bps: 10_000, environment_url: url });
    expect(tb.sh("systemctl is-active greentic-hello-proxy.service").trim()).toBe("active");
    expect(tb.sh(`systemctl is-active greentic-hello-${r1}.service`).trim()).toBe("active");
    const counts = await countVersions(url, 200);
    expect(counts).toEqual({ v1: 200, v2: 0, failed: 0 });
    // Loopback only: the proxy's metrics endpoint and the revision's own ports.
    const listening = tb.sh("cat /proc/net/tcp");
    expect(listening).toMatch(new RegExp(`0100007F:${revisionBase.toString(16).toUpperCase()} 00000000:0000 0A`));
  });

  it("deploy --traffic 1 warms v2 beside v1; 10 000 requests give 1 % ± 0.3 pp to v2", {
    timeout: 300_000,
  }, async () => {
    const d2 = ok(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      "/srv/bundles/hello-2.gtbundle",
      "--bundle-id",
      "hello",
      "--customer-id",
      "acme",
      "--traffic",
      "1",
      "--json",
    );
    r2 = d2.json.result.revision_id;
    expect(d2.json.result).toMatchObject({ deployment_id: deploymentId, traffic_bps: 100, previous_revision_id: r1 });
    expect(await liveSplit(exec(), vmSpec())).toEqual([
      { revision_id: r1, weight_bps: 9_900 },
      { revision_id: r2, weight_bps: 100 },
    ]);
    const counts = await countVersions(url, 10_000);
    expect(counts.failed).toBe(0);
    expect(Math.abs((counts.v2 / 10_000) * 100 - 1), JSON.stringify(counts)).toBeLessThanOrEqual(0.3);
  });

  it("traffic set 90/10 is live at once and within ±1 pp; show reports no drift", { timeout: 300_000 }, async () => {
    const started = Date.now();
    ok(
      "traffic",
      "set",
      "prod",
      `${r1}=90`,
      `${r2}=10`,
      "--deployment",
      deploymentId,
      "--idempotency-key",
      "ninety-ten",
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await liveSplit(exec(), vmSpec())).toEqual([
      { revision_id: r1, weight_bps: 9_000 },
      { revision_id: r2, weight_bps: 1_000 },
    ]);
    const counts = await countVersions(url, 10_000);
    expect(counts.failed).toBe(0);
    expect(Math.abs((counts.v2 / 10_000) * 100 - 10), JSON.stringify(counts)).toBeLessThanOrEqual(1);
    const show = ok("traffic", "show", "prod", "--json");
    expect(show.json.result.splits[0].entries).toEqual([
      { revision_id: r1, weight_bps: 9_000 },
      { revision_id: r2, weight_bps: 1_000 },
    ]);
  });

  it("refuses bad input and a drain under traffic, leaving the proxy as it was", { timeout: 120_000 }, async () => {
    const before = await liveSplit(exec(), vmSpec());
    const sum = op(
      "traffic",
      "set",
      "prod",
      `${r1}=90`,
      `${r2}=5`,
      "--deployment",
      deploymentId,
      "--idempotency-key",
      "bad-sum",
    );
    expect(sum.code).toBe(2);
    const malformed = op(
      "traffic",
      "set",
      "prod",
      `${r1}=50`,
      "not-a-revision=50",
      "--deployment",
      deploymentId,
      "--idempotency-key",
      "bad-id",
    );
    expect(malformed.code).toBe(2);
    const unknown = op(
      "traffic",
      "set",
      "prod",
      `${r1}=50`,
      "01J00000000000000000000000=50",
      "--deployment",
      deploymentId,
      "--idempotency-key",
      "bad-rev",
    );
    expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({
      code: 4,
      stderr: expect.stringContaining("01J00000000000000000000000"),
    });
    const drain = op("revisions", "drain", "prod", r2);
    expect(drain.code).toBe(3);
    expect(drain.stderr).toMatch(/still carries 10% of deployment/);
    expect(ok("revisions", "show", "prod", r2, "--json").json.result.revision.lifecycle).toBe("ready");
    expect(await liveSplit(exec(), vmSpec())).toEqual(before);
    expect(tb.sh(`systemctl is-active greentic-hello-${r2}.service`).trim()).toBe("active");
  });

  const context: CanaryScenarioContext = {
    get tb() {
      return tb;
    },
    get url() {
      return url;
    },
    get deploymentId() {
      return deploymentId;
    },
    get r1() {
      return r1;
    },
    get r2() {
      return r2;
    },
    op,
    ok,
    opWith,
    exec,
    vmSpec,
  };
  options.extra?.(context);

  const seconds = options.loadSeconds ?? Number(process.env.GREENTIC_CANARY_LOAD_SECONDS ?? 20);
  it(`under ${seconds} s of wrk load (32 connections) the split moves 1→5→25→50→100 and rolls back; wrk counts no error`, {
    timeout: 300_000,
  }, async () => {
    const load = startWrk(url, seconds);
    await new Promise((r) => setTimeout(r, 1_000));
    for (const [i, w] of [1, 5, 25, 50, 100].entries()) {
      const entries = w === 100 ? [`${r2}=100`] : [`${r1}=${100 - w}`, `${r2}=${w}`];
      ok("traffic", "set", "prod", ...entries, "--deployment", deploymentId, "--idempotency-key", `step-${i}`);
      await new Promise((r) => setTimeout(r, (seconds * 1000 - 3000) / 7));
    }
    ok("traffic", "rollback", "prod", "--deployment", deploymentId, "--idempotency-key", "back");
    expect(await liveSplit(exec(), vmSpec())).toEqual([
      { revision_id: r1, weight_bps: 5_000 },
      { revision_id: r2, weight_bps: 5_000 },
    ]);
    const result = await load;
    expect(result.requests).toBeGreaterThan(1_000);
    expect(result.errors, result.text).toEqual(NO_WRK_ERRORS);
  });

  it("drain under load: v2 leaves the proxy, in-flight requests finish, its unit stops; nothing fails", {
    timeout: 300_000,
  }, async () => {
    ok("traffic", "set", "prod", `${r1}=100`, "--deployment", deploymentId, "--idempotency-key", "all-v1");
    const load = startWrk(url, 8);
    await new Promise((r) => setTimeout(r, 1_000));
    ok("revisions", "drain", "prod", r2);
    const result = await load;
    expect(result.errors, result.text).toEqual(NO_WRK_ERRORS);
    expect(tb.run("systemctl", ["is-active", `greentic-hello-${r2}.service`]).stdout.trim()).toBe("inactive");
    expect(tb.sh("cat /etc/greentic/hello/proxy/haproxy.cfg")).not.toContain(`r_${r2}`);
  });

  it("apply converges: a second plan of the VM lists nothing and restarts nothing", { timeout: 120_000 }, async () => {
    const pid = tb.sh("systemctl show -p MainPID --value greentic-hello-proxy.service").trim();
    const plan = await planDeployment(vmSpec(), { executor: exec(), specBundle: false });
    expect(plan.actions).toEqual([]);
    expect(tb.sh("systemctl show -p MainPID --value greentic-hello-proxy.service").trim()).toBe(pid);
  });

  options.beforeDestroy?.(context);

  it("destroy removes the proxy and every revision unit", { timeout: 120_000 }, async () => {
    ok("env", "destroy", "prod", "--confirm");
    expect(tb.sh("systemctl list-units --all --no-legend 'greentic-*' 'mnt-greentic-*'").trim()).toBe("");
    await tb.stop();
  });
}
