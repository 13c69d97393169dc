// The canary proxy on a booted Debian 12 testbed (systemd-nspawn, as the e2e suites use), with
// `op` driving it as an operator would:
// - requests/s and p99 through HAProxy (the generated config: rand(10000) and the split map) at
//   100 % to one revision, against the same revision's own port, wrk -c32, alternating runs; and a
//   bare HAProxy beside them (the distribution's binary, a ten-line configuration: one frontend,
//   one server) in the same rounds, to tell what the proxy hop costs on this machine from what
//   the generated configuration adds to it;
// - p99 at one offered rate below saturation (wrk paced to 5 000 req/s), on each of the three:
//   at saturation p99 is mostly queueing (32 connections over the throughput), paced it is the
//   time the hop itself adds;
// - time from starting `op traffic set` to the new weights being live in HAProxy (polled on its
//   admin socket), against `op traffic show`'s run time (op's start-up and a read) in the same run;
//   and the runtime-API push alone;
// - memory of an extra revision: the second revision's unit against the first's, after load.
// Needs root, the testbed (scripts/testbed/build.sh) and wrk. Run by `pnpm bench` after a build.
//
// Each round runs every side back to back, the order rotated every round, and the ratios are the
// medians of the rounds' own ratios (each round's sides saw the same load on this shared machine).
// A second table says where the CPU went, per request, in each side: HAProxy (and how busy its one
// thread was, to show whether it caps the proxy), the revision's runtime, journald and wrk itself,
// which shares the cores here but would not on a VM. The revision's runtime writes no line per
// request (GREENTIC_ACCESS_LOG=off: HAProxy's ring holds the request log), so both sides measure
// the same runtime; journald's row shows that none is written. Until it did, journald spent
// 11-17 µs per request on each side and the runtime 10-17 µs more (its synchronous write): a
// proxied request cost 92-112 µs in all, 61-73 µs since (old and new alternating, load 1.6-2.8).
//
// Unpinned by default. GREENTIC_BENCH_PIN=1 places both sides of the comparison the same way:
// the revision's runtime (one Node thread) alone on CPU 0, wrk on the other CPUs, and HAProxy
// there too (it runs in both sides, idle in the direct runs). On a VM the clients are elsewhere
// and the proxy shares the machine with the runtime only; here wrk runs beside them, and
// unpinned it takes CPU from the runtime in the proxy runs more than in the direct ones (three
// busy processes on two cores instead of two). Pinned, the direct baseline keeps a core for the
// runtime and one for wrk, so it is not weakened; the proxy's work comes out of the load
// generator's core. On a machine loaded by other work, pinning hurt the proxy side (its two
// processes cannot move off a busy core), so it is not the default.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import { buildBundle } from "@greentic/bundle";
import { createHostExecutor, liveSplit, pushSplit, type WeightedRevision } from "@greentic/adapter-single-vm";
import { bootTestbed, PROJECT_MOUNT, testbedProblem } from "../../../scripts/testbed/testbed.ts";
import { freePort, median, report, wrk } from "../../../bench/lib.ts";

const RUNS = Number(process.env.GREENTIC_BENCH_RUNS ?? 7);
const SECONDS = 5;
const CONNECTIONS = 32;
const repo = resolve(import.meta.dirname, "../../..");

const problem = testbedProblem();
if (problem !== undefined) {
  console.error(`canary bench needs the systemd testbed: ${problem}`);
  process.exit(1);
}

// With GREENTIC_BENCH_PIN=1: CPU 0 for the runtime, the rest for wrk and HAProxy (see the top).
const CPUS = availableParallelism();
const LOAD_CPUS = CPUS >= 2 && process.env.GREENTIC_BENCH_PIN === "1" ? `1-${CPUS - 1}` : undefined;
const load = (url: string) =>
  wrk(url, { seconds: SECONDS, connections: CONNECTIONS, ...(LOAD_CPUS ? { cpus: LOAD_CPUS } : {}) });

const publicPort = await freePort();
// Below the kernel's ephemeral range (32768 and up), where other processes' client sockets sit.
const revisionBase = 20_000 + Math.floor(Math.random() * 12_000);
const doc = {
  apiVersion: "greentic.ai/v1alpha1",
  kind: "Deployment",
  metadata: { name: "hello" },
  spec: {
    bundle: { source: "/srv/bundles/hello-1.gtbundle" },
    runtime: { binary: `${PROJECT_MOUNT}/packages/runtime/dist/bin.js`, publicBind: `127.0.0.1:${publicPort}` },
    health: { startupTimeoutSeconds: 60 },
    rollout: { strategy: "canary", drainSeconds: 5, revisionPorts: `${revisionBase}-${revisionBase + 40}` },
  },
};
const parsed = parseDeploymentSpec(JSON.stringify(doc));
if (!parsed.ok) throw new Error(parsed.summary);
const spec = parsed.value;

const tb = await bootTestbed({ name: `gtbbench${process.pid}` });
try {
  const exec = () => createHostExecutor({ nsenterPid: tb.pid });
  const op = (...args: string[]) => {
    const r = tb.run("env", [
      "GREENTIC_HOME=/root/greentic",
      "/usr/bin/node",
      `${PROJECT_MOUNT}/apps/op/bin/run.js`,
      ...args,
    ]);
    if (r.code !== 0) throw new Error(`op ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim().startsWith("{") ? JSON.parse(r.stdout).result : r.stdout;
  };
  mkdirSync(`${tb.root}/srv/bundles`, { recursive: true });
  for (const [v, dir] of [
    [1, "hello"],
    [2, "hello-v2"],
  ] as const)
    await buildBundle({
      sourceDir: join(repo, "fixtures/bundles", dir),
      outFile: `${tb.root}/srv/bundles/hello-${v}.gtbundle`,
      bundleId: "hello",
      version: `${v}.0.0`,
    });
  mkdirSync(`${tb.root}/etc/greentic/hello`, { recursive: true });
  writeFileSync(`${tb.root}/etc/greentic/hello/deployment.yaml`, JSON.stringify(doc));
  op("env", "init", "prod", "--deployer", "single-vm", "--spec", "/etc/greentic/hello/deployment.yaml", "--json");
  const deploy = (v: number, ...more: string[]) =>
    op(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      `/srv/bundles/hello-${v}.gtbundle`,
      "--customer-id",
      "acme",
      ...more,
      "--json",
    );
  const d1 = deploy(1);
  const r1: string = d1.revision_id;
  const deploymentId: string = d1.deployment_id;
  const record = () => JSON.parse(readFileSync(`${tb.root}/var/lib/greentic/hello/canary.json`, "utf8"));
  const unitRss = (id: string) => {
    const pid = tb.sh(`systemctl show -p MainPID --value greentic-hello-${id}.service`).trim();
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(tb.sh(`cat /proc/${pid}/status`))![1]) / 1024;
  };
  const proxyRss = () => {
    const procs = tb.sh("systemctl show -p ControlGroup --value greentic-hello-proxy.service").trim();
    return tb
      .sh(`cat /sys/fs/cgroup${procs}/cgroup.procs`)
      .trim()
      .split("\n")
      .map((pid) => Number(/^VmRSS:\s+(\d+) kB/m.exec(tb.sh(`cat /proc/${pid}/status`))?.[1] ?? 0) / 1024)
      .reduce((a, b) => a + b, 0);
  };

  /**
   * Pins every thread of every process of a unit (taskset -a) to `cpus`. Its cgroup.procs is read
   * from here through the machine's root, so it lists this side's PIDs, which taskset takes.
   */
  const pinUnit = (unit: string, cpus: string) => {
    const cgroup = tb.sh(`systemctl show -p ControlGroup --value ${unit}`).trim();
    for (const pid of readFileSync(`${tb.root}/sys/fs/cgroup${cgroup}/cgroup.procs`, "utf8").trim().split("\n"))
      execFileSync("taskset", ["-a", "-p", "-c", cpus, pid], { stdio: "ignore" });
  };
  if (LOAD_CPUS !== undefined) {
    pinUnit(`greentic-hello-${r1}.service`, "0");
    pinUnit("greentic-hello-proxy.service", LOAD_CPUS);
  }

  // Proxy against direct, one revision at 100 %, with the CPU each process spent per request.
  const proxyUrl = `http://127.0.0.1:${publicPort}/`;
  const directUrl = `http://127.0.0.1:${record().revisions[r1].public_port}/`;
  const TICK_US = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));
  /** user+system CPU (µs) of every process of a unit, read from /proc through its cgroup. */
  const unitCpu = (unit: string) => {
    const cgroup = tb.sh(`systemctl show -p ControlGroup --value ${unit}`).trim();
    let ticks = 0;
    for (const pid of readFileSync(`${tb.root}/sys/fs/cgroup${cgroup}/cgroup.procs`, "utf8").trim().split("\n")) {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    }
    return ticks * TICK_US;
  };
  /** CPU (µs) of this process's waited-for children: wrk. */
  const childCpu = () => {
    const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    return (Number(f[13]) + Number(f[14])) * TICK_US;
  };
  const parties = {
    haproxy: "greentic-hello-proxy.service",
    runtime: `greentic-hello-${r1}.service`,
    journald: "systemd-journald.service",
  };
  type Measured = { rps: number; p99: number; cpu: Record<keyof typeof parties | "wrk", number>; haproxyBusy: number };
  const measure = (url: string): Measured => {
    const before = Object.fromEntries(Object.entries(parties).map(([k, u]) => [k, unitCpu(u)]));
    const wrk0 = childCpu();
    const t0 = performance.now();
    const r = load(url);
    const wallUs = (performance.now() - t0) * 1000;
    const wrkUs = childCpu() - wrk0; // before the reads below, whose systemctl runs are children too
    const requests = r.rps * SECONDS;
    const spent = (k: keyof typeof parties) => unitCpu(parties[k]) - before[k]!;
    return {
      ...r,
      cpu: {
        haproxy: spent("haproxy") / requests,
        runtime: spent("runtime") / requests,
        journald: spent("journald") / requests,
        wrk: wrkUs / requests,
      },
      haproxyBusy: spent("haproxy") / wallUs,
    };
  };
  // The bare HAProxy: same binary, one thread, keep-alive, one server (the revision's port), no
  // split, log or stats. Started in the testbed as a daemon, stopped in the finally below.
  const barePort = await freePort();
  writeFileSync(
    `${tb.root}/run/bench-bare-haproxy.cfg`,
    [
      "global",
      "  nbthread 1",
      "  maxconn 4096",
      "defaults",
      "  mode http",
      "  option http-keep-alive",
      "  timeout connect 5s",
      "  timeout client 60s",
      "  timeout server 60s",
      "frontend bare",
      `  bind 127.0.0.1:${barePort}`,
      "  default_backend revision",
      "backend revision",
      `  server ${r1} 127.0.0.1:${record().revisions[r1].public_port}`,
      "",
    ].join("\n"),
  );
  tb.sh("haproxy -f /run/bench-bare-haproxy.cfg -D -p /run/bench-bare-haproxy.pid");
  const bareUrl = `http://127.0.0.1:${barePort}/`;
  const PACED_RATE = 5000;
  const paced = (url: string) =>
    wrk(url, {
      seconds: SECONDS,
      connections: CONNECTIONS,
      rate: PACED_RATE,
      ...(LOAD_CPUS ? { cpus: LOAD_CPUS } : {}),
    });

  load(proxyUrl);
  load(bareUrl);
  load(directUrl); // warm-up
  const loadBefore = loadavg()[0]!;
  const p: Measured[] = [];
  const d: Measured[] = [];
  const bare: Array<{ rps: number; p99: number }> = [];
  const pacedP99 = { direct: [] as number[], proxy: [] as number[], bare: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    // Rotate the order each round, so no side always runs first after another's load.
    const sides = [
      () => d.push(measure(directUrl)),
      () => p.push(measure(proxyUrl)),
      () => bare.push(load(bareUrl)),
      () => pacedP99.direct.push(paced(directUrl).p99),
      () => pacedP99.proxy.push(paced(proxyUrl).p99),
      () => pacedP99.bare.push(paced(bareUrl).p99),
    ];
    for (let k = 0; k < sides.length; k++) sides[(i + k) % sides.length]!();
  }
  const load1 = `load average ${loadBefore.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)} on ${CPUS} CPUs`;
  const pairs = (f: (m: Measured) => number) => median(p.map((x, i) => f(x) / f(d[i]!)));
  const bareRatio = (f: (m: { rps: number; p99: number }) => number) => median(bare.map((x, i) => f(x) / f(d[i]!)));
  const pacedRatio = (side: number[]) => median(side.map((x, i) => x / pacedP99.direct[i]!));
  const [drps, prps, brps] = [median(d.map((x) => x.rps)), median(p.map((x) => x.rps)), median(bare.map((x) => x.rps))];
  const [dp99, pp99, bp99] = [median(d.map((x) => x.p99)), median(p.map((x) => x.p99)), median(bare.map((x) => x.p99))];
  report(
    `single-vm canary: HAProxy vs direct to one revision, wrk -c32 ${SECONDS} s, order rotated each round${LOAD_CPUS ? `, runtime on CPU 0, wrk and HAProxy on CPU ${LOAD_CPUS}` : ""}`,
    "direct to the revision's port (ratio: median of the rounds' side/direct)",
    [
      { name: "direct req/s", median: drps, unit: "req/s", ratio: 1, runs: RUNS, note: load1 },
      {
        name: "proxy req/s",
        median: prps,
        unit: "req/s",
        ratio: pairs((m) => m.rps),
        runs: RUNS,
        note: `target >= 0.8x; ratio of the medians ${(prps / drps).toFixed(2)}x`,
      },
      {
        name: "bare HAProxy req/s",
        median: brps,
        unit: "req/s",
        ratio: bareRatio((m) => m.rps),
        runs: RUNS,
        note: "the hop alone: one frontend, one server",
      },
      { name: "direct p99", median: dp99, unit: "ms", ratio: 1, runs: RUNS },
      {
        name: "proxy p99",
        median: pp99,
        unit: "ms",
        ratio: pairs((m) => m.p99),
        runs: RUNS,
        note: `target <= 1.5x; ratio of the medians ${(pp99 / dp99).toFixed(2)}x`,
      },
      { name: "bare HAProxy p99", median: bp99, unit: "ms", ratio: bareRatio((m) => m.p99), runs: RUNS },
    ],
  );
  report(
    `single-vm canary: p99 at ${PACED_RATE} req/s offered (wrk -c32 paced), in the same rounds`,
    "direct to the revision's port",
    [
      { name: "direct p99", median: median(pacedP99.direct), unit: "ms", ratio: 1, runs: RUNS },
      { name: "proxy p99", median: median(pacedP99.proxy), unit: "ms", ratio: pacedRatio(pacedP99.proxy), runs: RUNS },
      {
        name: "bare HAProxy p99",
        median: median(pacedP99.bare),
        unit: "ms",
        ratio: pacedRatio(pacedP99.bare),
        runs: RUNS,
      },
    ],
  );
  const cpuRow = (name: string, side: Measured[], k: keyof Measured["cpu"], note?: string) => ({
    name,
    median: median(side.map((m) => m.cpu[k])),
    unit: "µs/req",
    runs: RUNS,
    ...(note ? { note } : {}),
  });
  const total = (m: Measured) => m.cpu.haproxy + m.cpu.runtime + m.cpu.journald + m.cpu.wrk;
  report("single-vm canary: CPU per request in the same runs (user + system)", "the direct runs' total", [
    {
      ...cpuRow("proxy: HAProxy", p, "haproxy"),
      note: `its one thread busy ${(median(p.map((m) => m.haproxyBusy)) * 100).toFixed(0)} % of the time`,
    },
    cpuRow("proxy: runtime", p, "runtime"),
    cpuRow("direct: runtime", d, "runtime"),
    cpuRow("proxy: journald", p, "journald", "the runtime logs no request behind the proxy"),
    cpuRow("direct: journald", d, "journald"),
    cpuRow("proxy: wrk", p, "wrk", "the load generator, on the same CPUs"),
    cpuRow("direct: wrk", d, "wrk"),
    { name: "proxy: total", median: median(p.map(total)), unit: "µs/req", ratio: pairs(total), runs: RUNS },
    { name: "direct: total", median: median(d.map(total)), unit: "µs/req", ratio: 1, runs: RUNS },
  ]);

  // Memory: the first revision after load, then a second one warmed beside it and loaded too.
  const samples = (f: () => number) => median(Array.from({ length: 5 }, f));
  const rss1 = samples(() => unitRss(r1));
  const proxy1 = samples(proxyRss);
  const d2 = deploy(2, "--traffic", "50");
  const r2: string = d2.revision_id;
  load(proxyUrl);
  const rss2 = samples(() => unitRss(r2));
  const proxy2 = samples(proxyRss);
  report("single-vm canary: memory of an extra revision (RSS after wrk load)", "the first revision's unit", [
    { name: "first revision unit", median: rss1, unit: "MiB", ratio: 1, runs: 5 },
    { name: "extra revision unit", median: rss2, unit: "MiB", ratio: rss2 / rss1, runs: 5 },
    {
      name: "proxy growth with it",
      median: proxy2 - proxy1,
      unit: "MiB",
      runs: 5,
      note: `HAProxy ${proxy1.toFixed(1)} -> ${proxy2.toFixed(1)} MiB (master + worker)`,
    },
  ]);

  // Time to live: start `op traffic set`, poll HAProxy's map until it shows the new weights.
  const executor = exec();
  const sameAs = (a: WeightedRevision[], b: WeightedRevision[]) => JSON.stringify(a) === JSON.stringify(b);
  const toLive: number[] = [];
  const opShow: number[] = [];
  const push: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const w = i % 2 === 0 ? 90 : 10;
    const want = [
      { revision_id: r1, weight_bps: w * 100 },
      { revision_id: r2, weight_bps: (100 - w) * 100 },
    ];
    const started = performance.now();
    const child = spawn("nsenter", [
      "-t",
      String(tb.pid),
      "-a",
      "env",
      "GREENTIC_HOME=/root/greentic",
      "/usr/bin/node",
      `${PROJECT_MOUNT}/apps/op/bin/run.js`,
      "traffic",
      "set",
      "prod",
      `${r1}=${w}`,
      `${r2}=${100 - w}`,
      "--deployment",
      deploymentId,
      "--idempotency-key",
      `bench-${i}`,
    ]);
    const exited = new Promise<number | null>((r) => child.on("close", r));
    for (;;) {
      if (sameAs(await liveSplit(executor, spec), want)) break;
      if (performance.now() - started > 30_000) throw new Error("the split did not go live within 30 s");
      await new Promise((r) => setTimeout(r, 5));
    }
    toLive.push(performance.now() - started);
    if ((await exited) !== 0) throw new Error("op traffic set failed");
    const s = performance.now();
    op("traffic", "show", "prod", "--json");
    opShow.push(performance.now() - s);
    // The runtime-API push alone (what traffic set does after its store commit), then back.
    const back = [
      { revision_id: r1, weight_bps: (100 - w) * 100 },
      { revision_id: r2, weight_bps: w * 100 },
    ];
    const t = performance.now();
    await pushSplit(executor, spec, back);
    if (!sameAs(await liveSplit(executor, spec), back)) throw new Error("pushed split not live");
    push.push(performance.now() - t);
    await pushSplit(executor, spec, want);
  }
  const show = median(opShow);
  report("single-vm canary: op traffic set until the new weights are live", "op traffic show (start-up + read)", [
    { name: "op traffic show", median: show, unit: "ms", ratio: 1, runs: RUNS },
    {
      name: "op traffic set -> live",
      median: median(toLive),
      unit: "ms",
      ratio: median(toLive) / show,
      runs: RUNS,
      note: "target <= 1000 ms",
    },
    { name: "runtime API push -> live", median: median(push), unit: "ms", ratio: median(push) / show, runs: RUNS },
  ]);
} finally {
  await tb.stop(); // the bare HAProxy goes with the machine
}
