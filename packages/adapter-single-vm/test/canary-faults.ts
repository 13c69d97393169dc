import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { PROJECT_MOUNT } from "../../../scripts/testbed/testbed.ts";
import { backendCounters, liveSplit, type WeightedRevision } from "../src/index.js";
import { countVersions, type CanaryScenarioContext } from "./canary-scenario.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Faults on the canary VM, on the machine the scenario booted: kill -9 of a revision, of HAProxy
 * and of `op` in the middle of `traffic set`, then a reboot. After each, HAProxy's live split is
 * the store's to the basis point, and requests are served again.
 */
export function canaryFaults(ctx: CanaryScenarioContext): void {
  /** The environment store's split of the deployment (read without repairing anything). */
  const storeSplit = (): WeightedRevision[] => {
    const env = ctx.ok("env", "show", "prod", "--json").json.result.environment;
    const split = env.traffic_splits.find((s: { deployment_id: string }) => s.deployment_id === ctx.deploymentId);
    return split.entries
      .filter((e: WeightedRevision) => e.weight_bps > 0)
      .map((e: WeightedRevision) => ({ revision_id: e.revision_id, weight_bps: e.weight_bps }));
  };
  const live = () => liveSplit(ctx.exec(), ctx.vmSpec());
  /** Waits until HAProxy answers and sees every server UP (health checks every second). */
  const proxyUp = async (timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const counters = await backendCounters(ctx.exec(), ctx.vmSpec()).catch(() => []);
      if (counters.length >= 2 && counters.every((c) => c.server_status === "UP")) return;
      if (Date.now() > until) throw new Error(`proxy not up: ${JSON.stringify(counters)}`);
      await sleep(250);
    }
  };
  const mainPid = (unit: string) => Number(ctx.tb.sh(`systemctl show -p MainPID --value ${unit}`).trim());
  const waitNewPid = async (unit: string, old: number) => {
    const until = Date.now() + 30_000;
    for (;;) {
      const active = ctx.tb.run("systemctl", ["is-active", unit]).stdout.trim();
      const pid = mainPid(unit);
      if (active === "active" && pid > 0 && pid !== old) return pid;
      if (Date.now() > until) throw new Error(`${unit} not back: ${active}, MainPID ${pid}`);
      await sleep(200);
    }
  };
  const setArgs = (key: string, a: number, b: number) => [
    "traffic",
    "set",
    "prod",
    `${ctx.r1}=${a}`,
    `${ctx.r2}=${b}`,
    "--deployment",
    ctx.deploymentId,
    "--idempotency-key",
    key,
  ];
  const set = (key: string, a: number, b: number) => ctx.ok(...setArgs(key, a, b));
  /** Both revisions answer and no request fails. */
  const serving = async (n = 1_000) => {
    const counts = await countVersions(ctx.url, n);
    expect(counts.failed, JSON.stringify(counts)).toBe(0);
    expect(counts.v1).toBeGreaterThan(0);
    expect(counts.v2).toBeGreaterThan(0);
  };
  const split = (a: number, b: number): WeightedRevision[] => [
    { revision_id: ctx.r1, weight_bps: a * 100 },
    { revision_id: ctx.r2, weight_bps: b * 100 },
  ];

  it("kill -9 of a revision's process: systemd restarts it, the split stays the store's, serving resumes", {
    timeout: 120_000,
  }, async () => {
    set("faults-70-30", 70, 30);
    const unit = `greentic-hello-${ctx.r1}.service`;
    const before = mainPid(unit);
    const restarts = Number(ctx.tb.sh(`systemctl show -p NRestarts --value ${unit}`).trim());
    ctx.tb.sh(`kill -9 ${before}`);
    await waitNewPid(unit, before);
    expect(Number(ctx.tb.sh(`systemctl show -p NRestarts --value ${unit}`).trim())).toBe(restarts + 1);
    await proxyUp();
    expect(await live()).toEqual(split(70, 30));
    expect(storeSplit()).toEqual(split(70, 30));
    await serving();
  });

  it("kill -9 of HAProxy: systemd restarts it with the split last set, serving resumes", {
    timeout: 120_000,
  }, async () => {
    set("faults-65-35", 65, 35);
    const unit = "greentic-hello-proxy.service";
    const before = mainPid(unit);
    ctx.tb.sh(`kill -9 ${before}`);
    await waitNewPid(unit, before);
    await proxyUp();
    // Loaded from split.map, which traffic set wrote before pushing it live.
    expect(await live()).toEqual(split(65, 35));
    expect(storeSplit()).toEqual(split(65, 35));
    await serving();
  });

  it("kill -9 of op at each write of traffic set: traffic show reports the drift, the next traffic set puts HAProxy on the store's split", {
    timeout: 600_000,
  }, async () => {
    const preload = `${PROJECT_MOUNT}/apps/op/test/crash/preload.cjs`;
    const report = "/tmp/gt-crash-report";
    // A killed op leaves its lock behind; the next command takes it over once stale.
    const env = { GREENTIC_LOCK_STALE_MS: "2000" };
    const armed = (at: number, when: "before" | "after", key: string, a: number, b: number) =>
      ctx.opWith(
        { ...env, GT_CRASH_ARMED: "1", GT_CRASH_AT: String(at), GT_CRASH_WHEN: when, GT_CRASH_REPORT: report },
        ["--require", preload],
        ...setArgs(key, a, b),
      );
    const readReport = () => readFileSync(`${ctx.tb.root}${report}`, "utf8").split("\n");
    // Count run: every mutating filesystem call of one traffic set, in order.
    const counted = armed(0, "before", "faults-count", 60, 40);
    expect(counted.code, counted.stderr).toBe(0);
    const [head, ...trace] = readReport();
    const total = Number(head!.split(" ")[0]);
    const calls = trace.flatMap((l) => {
      const m = /^(\d+) (\S+) ?(.*)$/.exec(l);
      return m ? [{ n: Number(m[1]), name: m[2]!, arg: m[3]! }] : [];
    });
    const call = (name: string, arg: RegExp) => {
      const found = calls.find((c) => c.name === name && arg.test(c.arg));
      if (found === undefined) throw new Error(`traffic set made no ${name} of ${arg}:\n${trace.join("\n")}`);
      return found.n;
    };
    // The moments that matter: before anything; before the store's commit record is published;
    // before the VM's canary record is replaced; before the proxy's map file is replaced; right
    // after it (before the runtime API push); after the last write.
    const map = call("rename", /split\.map/);
    // `behind`: whether the killed command left HAProxy on the old split while the store has the new.
    const points: Array<[number, "before" | "after", boolean]> = [
      [1, "before", false],
      [call("link", /\/commits\//), "before", false],
      [call("rename", /canary\.json/), "before", true],
      [map, "before", true],
      [map + 1, "after", true],
      [total, "after", false],
    ];
    let [a, b] = [60, 40];
    for (const [i, [at, when, behind]] of points.entries()) {
      [a, b] = [b, a];
      const killed = armed(at, when, `faults-kill-${i}`, a, b);
      expect(readReport()[0], `kill ${when} call ${at}: ${killed.stderr}`).toBe(`${at} true`);
      // The next read says whether the killed command left HAProxy behind the store, and how.
      const show = ctx.opWith(env, [], "traffic", "show", "prod", "--json");
      expect(show.code, show.stderr).toBe(0);
      const stored = storeSplit();
      expect([split(a, b), split(b, a)], `kill ${when} call ${at}`).toContainEqual(stored);
      const before = split(b, a);
      expect(show.json.result.drift ?? [], `kill ${when} call ${at}`).toEqual(
        behind ? [{ deployment_id: ctx.deploymentId, desired: stored, live: before }] : [],
      );
      expect(await live(), `kill ${when} call ${at}`).toEqual(behind ? before : stored);
      await serving(400);
      // The next traffic command (the retry, same key) applies the store's split: HAProxy equals it.
      const retry = ctx.opWith(env, [], ...setArgs(`faults-kill-${i}`, a, b));
      expect(retry.code, retry.stderr).toBe(0);
      expect(await live()).toEqual(split(a, b));
      expect(storeSplit()).toEqual(split(a, b));
    }
  });

  it("a reboot of the VM: the proxy, every revision and the recorded split come back; serving resumes", {
    timeout: 300_000,
  }, async () => {
    set("faults-80-20", 80, 20);
    await ctx.tb.reboot();
    const units = [
      "greentic-hello-proxy.service",
      `greentic-hello-${ctx.r1}.service`,
      `greentic-hello-${ctx.r2}.service`,
    ];
    const until = Date.now() + 60_000;
    while (ctx.tb.run("systemctl", ["is-active", ...units]).code !== 0 && Date.now() < until) await sleep(250);
    expect(
      ctx.tb
        .run("systemctl", ["is-active", ...units])
        .stdout.trim()
        .split("\n"),
    ).toEqual(["active", "active", "active"]);
    await proxyUp();
    expect(await live()).toEqual(split(80, 20));
    expect(storeSplit()).toEqual(split(80, 20));
    await serving();
  });
}
