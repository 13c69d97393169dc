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

  it("kill -9 of op at each write of traffic set: with no further command the VM's repair unit puts HAProxy on the store's split within 5 s; the next traffic show repairs too", {
    timeout: 600_000,
  }, async () => {
    const preload = `${PROJECT_MOUNT}/apps/op/test/crash/preload.cjs`;
    const report = "/tmp/gt-crash-report";
    const repairPath = "greentic-hello-traffic-repair.path";
    // A killed op leaves its lock behind; the next command takes it over once stale.
    const env = { GREENTIC_LOCK_STALE_MS: "2000" };
    const armed = (at: number, when: "before" | "after", key: string, a: number, b: number) =>
      ctx.opWith(
        { ...env, GT_CRASH_ARMED: "1", GT_CRASH_AT: String(at), GT_CRASH_WHEN: when, GT_CRASH_REPORT: report },
        ["--require", preload],
        ...setArgs(key, a, b),
      );
    const readReport = () => readFileSync(`${ctx.tb.root}${report}`, "utf8").split("\n");
    // The traffic sets before installed the repair units; its path unit watches the store.
    expect(ctx.tb.run("systemctl", ["is-active", repairPath]).stdout.trim()).toBe("active");
    expect(ctx.tb.run("systemctl", ["is-enabled", "greentic-hello-traffic-repair.service"]).stdout.trim()).toBe(
      "enabled",
    );
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
    /** Polls HAProxy's runtime API (no op command) until it applies `want`; the time it took. */
    const liveWithin = async (want: WeightedRevision[], ms: number) => {
      const started = Date.now();
      for (;;) {
        const now = await live().catch(() => null);
        if (JSON.stringify(now) === JSON.stringify(want)) return Date.now() - started;
        if (Date.now() - started > ms) return null;
        await sleep(100);
      }
    };
    // The moments that matter: before anything; before the store's commit record is published;
    // before the VM's canary record is replaced; before the proxy's map file is replaced; right
    // after it (before the runtime API push); after the last write.
    const map = call("rename", /split\.map/);
    // `committed`: whether the killed command got the new split into the store.
    const points: Array<[number, "before" | "after", boolean]> = [
      [1, "before", false],
      [call("link", /\/commits\//), "before", false],
      [call("rename", /canary\.json/), "before", true],
      [map, "before", true],
      [map + 1, "after", true],
      [total, "after", true],
    ];
    let [a, b] = [60, 40];
    const repairMs: number[] = [];
    for (const [i, [at, when, committed]] of points.entries()) {
      [a, b] = [b, a];
      // At the map-file point the path unit is stopped: then the next command must repair.
      const byCommand = i === 3;
      if (byCommand) ctx.tb.sh(`systemctl stop ${repairPath}`);
      const killed = armed(at, when, `faults-kill-${i}`, a, b);
      expect(readReport()[0], `kill ${when} call ${at}: ${killed.stderr}`).toBe(`${at} true`);
      const stored = committed ? split(a, b) : split(b, a);
      if (byCommand) {
        // Nothing repairs on its own: HAProxy stays on the old split...
        await sleep(2_500);
        expect(await live(), `kill ${when} call ${at}`).toEqual(split(b, a));
        // ...until the next read of the traffic, which applies the store's split and then reports no drift.
        const show = ctx.opWith(env, [], "traffic", "show", "prod", "--json");
        expect(show.code, show.stderr).toBe(0);
        expect(show.json.result.drift, `kill ${when} call ${at}`).toBeUndefined();
        expect(await live(), `kill ${when} call ${at}`).toEqual(stored);
        ctx.tb.sh(`systemctl start ${repairPath}`);
      } else {
        // No command: the repair unit (or the killed command itself) brings HAProxy to the store's split.
        const took = await liveWithin(stored, 5_000);
        expect(took, `kill ${when} call ${at}: HAProxy at ${JSON.stringify(await live())}`).not.toBeNull();
        if (committed && i !== points.length - 1) repairMs.push(took!);
      }
      expect(storeSplit(), `kill ${when} call ${at}`).toEqual(stored);
      await serving(400);
      // The retry with the same key finishes the command: HAProxy and the store on the new split.
      const retry = ctx.opWith(env, [], ...setArgs(`faults-kill-${i}`, a, b));
      expect(retry.code, retry.stderr).toBe(0);
      expect(await live()).toEqual(split(a, b));
      expect(storeSplit()).toEqual(split(a, b));
    }
    // The repair unit did the work where HAProxy lagged (its journal says so), within the 5 s.
    expect(ctx.tb.sh("journalctl -u greentic-hello-traffic-repair.service -o cat --no-pager")).toContain(
      "HAProxy lagged the store; applied the stored split",
    );
    console.log(`repair without a command: HAProxy on the stored split after ${repairMs.join(", ")} ms`);
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
