import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalFsStore } from "@greentic/environment-store";
import { BIN, REPO, ensureBuilt, op } from "../helpers.js";

// The crash-injection sweep (issue 17): the write points of env update, config set, bundles add,
// traffic set and deploy, through the real `op` binary, are points where the process is killed
// (SIGKILL, before the call and after it) or stopped past the lock's stale period while another
// writer commits, then resumed. After every run: the environment loads, the audit log verifies,
// generations are contiguous and unique, a retry with the same idempotency key succeeds and is
// applied exactly once, and (traffic set, deploy) the local router then serves the split the
// store records within 5 s. Which points each verb is swept at: see `plan`.

ensureBuilt();

const PRELOAD = join(import.meta.dirname, "preload.cjs");
// Long enough that a loaded two-core machine still refreshes a held lock in time.
const STALE_MS = 5000;
const KEY = "sweep-key";

interface Template {
  root: string;
  /** The ready revisions of the deployed template: `a` serves 100 %, `b` 0 %. */
  a?: string;
  b?: string;
  /** The bundle a deploy adds (a third version of hello). */
  bundle?: string;
  /** The template's revision processes, shared by every copy (their records are copied). */
  pids?: number[];
}

interface Verb {
  name: string;
  template: "store" | "deployed";
  /** The command under test (with --idempotency-key KEY). */
  args: (t: Template) => string[];
  /** A second writer's command for the pause runs: it changes another field than `args`. */
  other: (n: number) => string[];
  /** What the second writer left, to find in the final environment. */
  otherLanded: (env: { name: string; host_config: { region?: string } }, n: number) => boolean;
  /** Swept at every write point (the store's commit path); the others at the points below. */
  reference?: boolean;
  /** Checks that the deployer's side (the local router) serves what the store says. */
  converged?: (root: string) => Promise<void>;
}

const regionLanded = (env: { host_config: { region?: string } }, n: number) => env.host_config.region === `other-${n}`;

const VERBS: Verb[] = [
  {
    name: "env update",
    template: "store",
    reference: true,
    args: () => ["env", "update", "local", "--name", "swept", "--idempotency-key", KEY],
    other: (n) => ["config", "set", "local", "--region", `other-${n}`],
    otherLanded: regionLanded,
  },
  {
    name: "config set",
    template: "store",
    args: () => ["config", "set", "local", "--region", "swept", "--idempotency-key", KEY],
    other: (n) => ["env", "update", "local", "--name", `other-${n}`],
    otherLanded: (env, n) => env.name === `other-${n}`,
  },
  {
    name: "bundles add",
    template: "store",
    args: () => ["bundles", "add", "local", "--bundle-id", "swept", "--idempotency-key", KEY],
    other: (n) => ["config", "set", "local", "--region", `other-${n}`],
    otherLanded: regionLanded,
  },
  {
    name: "traffic set",
    template: "deployed",
    args: (t) => ["traffic", "set", "local", `${t.b}=100`, "--deployment", "hello", "--idempotency-key", KEY],
    other: (n) => ["config", "set", "local", "--region", `other-${n}`],
    otherLanded: regionLanded,
    converged: routerServesStore,
  },
  {
    name: "deploy",
    template: "deployed",
    args: (t) => ["deploy", "--bundle", t.bundle!, "--bundle-id", "hello", "--idempotency-key", KEY],
    other: (n) => ["config", "set", "local", "--region", `other-${n}`],
    otherLanded: regionLanded,
    converged: routerServesStore,
  },
];

const work = mkdtempSync(join(tmpdir(), "op-sweep-"));
const templates: Record<Verb["template"], Template> = {
  store: { root: join(work, "template") },
  deployed: { root: join(work, "deployed") },
};
const init = op(["env", "init", "--store-root", templates.store.root, "--json"]);
if (init.status !== 0) throw new Error(`env init failed: ${init.stderr}`);

let runs = 0;
function fresh(template: Template): string {
  const root = join(work, `run-${runs++}`);
  cpSync(template.root, root, { recursive: true });
  return root;
}

/** Kills every process that names `root` in its command line or environment (routers, revisions). */
function stopProcessesOf(root: string): void {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const seen = `${readFileSync(`/proc/${pid}/cmdline`, "utf8")}\0${readFileSync(`/proc/${pid}/environ`, "utf8")}`;
      if (seen.includes(`${root}/`)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
}

function dispose(root: string): void {
  stopProcessesOf(root);
  rmSync(root, { recursive: true, force: true });
}

/**
 * The deployed template: hello 0.1.0 (revision a) at 100 % and hello 0.2.0 (revision b) ready
 * at 0 %, both running. Its router is stopped and forgotten, so every copy starts its own (on a
 * free port) while sharing the two revision processes, which no swept verb stops.
 */
function buildDeployed(t: Template): void {
  const at = (args: string[]) => {
    const r = op([...args, "--store-root", t.root, "--json"]);
    if (r.status !== 0) throw new Error(`op ${args.join(" ")}: ${r.stderr}`);
    return r.json.result;
  };
  at(["env", "init"]);
  const bundles = [1, 2, 3].map((v) => {
    const out = join(work, `hello-${v}.gtbundle`);
    at([
      "bundles",
      "build",
      join(REPO, "fixtures/bundles/hello"),
      "--bundle-id",
      "hello",
      "--bundle-version",
      `0.${v}.0`,
      "--out",
      out,
    ]);
    return out;
  });
  t.a = at(["deploy", "--bundle", bundles[0]!]).revision_id;
  t.b = at(["deploy", "--bundle", bundles[1]!, "--traffic", "1"]).revision_id;
  at(["traffic", "set", "local", `${t.a}=100`, "--deployment", "hello", "--idempotency-key", "template"]);
  t.bundle = bundles[2]!;
  const data = join(t.root, "local", "data");
  const router = JSON.parse(readFileSync(join(data, "router", "router.json"), "utf8")) as { pid: number };
  // The router's keeper and the router it runs share a process group.
  process.kill(-router.pid, "SIGKILL");
  rmSync(join(data, "router", "router.json"));
  rmSync(join(data, "router", "keeper.json"), { force: true });
  rmSync(join(data, "router", "listen.json"), { force: true });
  t.pids = readdirSync(join(data, "processes")).map(
    (f) => (JSON.parse(readFileSync(join(data, "processes", f), "utf8")) as { pid: number }).pid,
  );
  expect(t.pids).toHaveLength(2);
}

/**
 * The router convergence check: within 5 s of the last command, requests through the copy's
 * router are answered by the revisions the store's split gives traffic to, and only by them.
 */
async function routerServesStore(root: string): Promise<void> {
  const env = (await new LocalFsStore({ root, lockStaleMs: STALE_MS }).load("local")).environment as unknown as {
    traffic_splits: { bundle_id: string; entries: { revision_id: string; weight_bps: number }[] }[];
  };
  const split = env.traffic_splits.find((s) => s.bundle_id === "hello");
  const want = (split?.entries ?? []).filter((e) => e.weight_bps > 0).map((e) => e.revision_id);
  expect(want.length, "the store gives hello's traffic to some revision").toBeGreaterThan(0);
  const deadline = Date.now() + 5_000;
  let served: string[] = [];
  for (;;) {
    served = [];
    try {
      const { url } = JSON.parse(readFileSync(join(root, "local", "data", "router", "listen.json"), "utf8"));
      for (let i = 0; i < 8; i++) {
        const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        served.push(res.status === 200 ? (res.headers.get("x-greentic-revision") ?? "none") : `HTTP ${res.status}`);
      }
    } catch (error) {
      served.push(String(error));
    }
    if (served.length === 8 && served.every((r) => want.includes(r))) return;
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  expect.fail(`the router serves ${served.join(", ")}, not the store's split (${want.join(", ")}), 5 s on`);
}

interface Crash {
  at: number;
  mode: "kill" | "stop";
  when: "before" | "after";
}

function reportOf(file: string): { count: number; fired: boolean } {
  if (!existsSync(file)) return { count: 0, fired: false };
  const [count, fired] = readFileSync(file, "utf8").split("\n")[0]!.split(" ");
  return { count: Number(count), fired: fired === "true" };
}

/** Runs `op args` with the crash preload armed; resolves with the child and its report file. */
function armed(root: string, args: string[], crash: Crash | undefined, report: string) {
  const child = spawn(process.execPath, ["--require", PRELOAD, BIN, ...args, "--store-root", root, "--json"], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "ignore"],
    env: {
      ...process.env,
      NO_COLOR: "1",
      GREENTIC_LOCK_STALE_MS: String(STALE_MS),
      GT_CRASH_ARMED: "1",
      GT_CRASH_AT: String(crash?.at ?? 0),
      GT_CRASH_MODE: crash?.mode ?? "kill",
      GT_CRASH_WHEN: crash?.when ?? "before",
      GT_CRASH_REPORT: report,
    },
  });
  const exited = new Promise<number | null>((done) => child.on("exit", (code, signal) => done(signal ? -1 : code)));
  return { child, exited };
}

function opAsync(root: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args, "--store-root", root, "--json"], {
      cwd: REPO,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NO_COLOR: "1", GREENTIC_LOCK_STALE_MS: String(STALE_MS) },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (status) => done({ status, stderr }));
  });
}

/** The invariants every run must leave. Returns the loaded environment. */
async function invariants(root: string, label: string) {
  const store = new LocalFsStore({ root, lockStaleMs: STALE_MS });
  const loaded = await store.load("local");
  expect(await store.verifyAudit("local"), label).toMatchObject({ ok: true });
  const gens = (await store.listAudit("local")).flatMap((e) =>
    e.new_generation === undefined ? [] : [e.new_generation],
  );
  expect(gens, `${label}: generations contiguous and unique`).toEqual(
    Array.from({ length: gens.length }, (_, i) => i + 1),
  );
  expect(loaded.generation, label).toBe(gens.at(-1));
  return { store, loaded };
}

/**
 * Retries the verb with the same key (unarmed): it succeeds, and the key is applied once. A
 * deploy's steps are transactions of their own, each under a sub-key (`KEY:stage`, ...): each
 * of those is applied once.
 */
async function retriedOnce(root: string, args: string[], label: string): Promise<void> {
  const retry = await opAsync(root, args);
  expect(retry.status, `${label}: retry: ${retry.stderr}`).toBe(0);
  const { store } = await invariants(root, `${label} (after retry)`);
  const applied = new Map<string, number>();
  for (const e of await store.listAudit("local"))
    if (e.idempotency_key === KEY || e.idempotency_key?.startsWith(`${KEY}:`))
      applied.set(e.idempotency_key, (applied.get(e.idempotency_key) ?? 0) + 1);
  expect(applied.size, `${label}: applied`).toBeGreaterThan(0);
  expect(
    [...applied].filter(([, n]) => n !== 1),
    `${label}: applied exactly once`,
  ).toEqual([]);
}

/** The template's shared revision processes must outlive every run. */
function templateIntact(t: Template, label: string): void {
  for (const pid of t.pids ?? []) {
    expect(() => process.kill(pid, 0), `${label}: a swept verb stopped the template's revision ${pid}`).not.toThrow();
  }
}

async function killRun(verb: Verb, t: Template, crash: Crash): Promise<void> {
  const root = fresh(t);
  const report = join(root, "..", `report-${runs}`);
  const label = `${verb.name}: SIGKILL ${crash.when} fs call ${crash.at}`;
  const args = verb.args(t);
  try {
    const { child, exited } = armed(root, args, crash, report);
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    await exited.finally(() => clearTimeout(timer));
    expect(reportOf(report).fired, label).toBe(true);
    await invariants(root, label);
    await retriedOnce(root, args, label);
    await verb.converged?.(root);
    templateIntact(t, label);
  } finally {
    dispose(root);
  }
}

async function pauseRun(verb: Verb, t: Template, at: number, n: number): Promise<void> {
  const root = fresh(t);
  const report = join(root, "..", `report-${runs}`);
  const label = `${verb.name}: SIGSTOP at fs call ${at} past the stale period`;
  const args = verb.args(t);
  try {
    const { child, exited } = armed(root, args, { at, mode: "stop", when: "before" }, report);
    let done = false;
    void exited.then(() => (done = true));
    while (!reportOf(report).fired && !done) await sleep(20);
    expect(reportOf(report).fired, `${label}: reached the point`).toBe(true);
    await sleep(STALE_MS + 300);
    // Another writer takes the stale lock and commits while the first is stopped.
    const other = await opAsync(root, verb.other(n)).finally(() => child.kill("SIGCONT"));
    await exited;
    expect(other.status, `${label}: the other writer: ${other.stderr}`).toBe(0);
    const { loaded } = await invariants(root, label);
    expect(verb.otherLanded(loaded.environment as never, n), `${label}: no lost update`).toBe(true);
    await retriedOnce(root, args, label);
    await verb.converged?.(root);
    const after = (await new LocalFsStore({ root }).load("local")).environment;
    expect(verb.otherLanded(after as never, n), `${label}: no lost update after the retry`).toBe(true);
  } finally {
    dispose(root);
  }
}

/** Runs `tasks` `width` at a time; returns the failures (all of them, not just the first). */
async function pool(tasks: (() => Promise<void>)[], width: number): Promise<string[]> {
  const queue = [...tasks];
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let task = queue.shift(); task; task = queue.shift())
        await task().catch((error: unknown) => failures.push(error instanceof Error ? error.message : String(error)));
    }),
  );
  return failures;
}

/**
 * A write call's kind: the call and its path with everything run-specific taken out (the store
 * root, ids, temp-name randomness, time stamps, a bundle's own file names). A FileHandle call is
 * named by the path its handle was opened on.
 */
function kinds(trace: string[], root: string): string[] {
  let lastOpen = "";
  return trace.map((line) => {
    const [, name = "", ...rest] = line.split(" ");
    let arg = rest.join(" ").split(root).join("");
    arg = arg
      .replace(/\/tmp\/greentic-[a-z]+-\w+/g, "/TMP")
      .replace(/[0-9A-HJKMNP-TV-Z]{26}/g, "ULID")
      .replace(/\d{8}T\d{6}\.\d+Z(\.\d+)?/g, "STAMP")
      .replace(/\.(staging|tmp)-[\w-]+/g, ".$1-X")
      .replace(/\.[0-9a-f]{8,}\.tmp$/, ".X.tmp")
      .replace(/[0-9a-f]{12,}/g, "HEX")
      .replace(/\/bundle\/.+/, "/bundle/*")
      .replace(/\/root\/.+/, "/root/*");
    if (name === "open") lastOpen = arg;
    if (arg.startsWith("fd ")) arg = `fd:${lastOpen}`;
    return `${name} ${arg}`;
  });
}

/** Calls the commit protocol rests on: the record's link, every rename, the audit append, the lock. */
const critical = (kind: string) =>
  /^(link|rename) /.test(kind) ||
  kind === "handle.write fd:/local/audit/events.jsonl" ||
  kind === "mkdir /.locks/local.lock" ||
  kind === "rm /.locks/local.lock";

/** What the reference verb's full sweep covered: each kind of write call is killed once more only where critical. */
const covered = new Set<string>();

interface Plan {
  kills: Crash[];
  pauses: number[];
}

/**
 * Which points a verb is swept at. A kill after call N leaves the disk as a kill before call N+1
 * does, so "after" matters only where N+1 is not swept itself.
 *
 * - The reference verb (env update), whose one commit is the store's commit path: before every
 *   write call, and after each critical call, fsync, write, unlink and the last call.
 * - The others, whose commits go through that same code: in each commit they make, before its
 *   lock is taken, before and after its record's link (not committed / committed but not yet
 *   written out) and after its audit append; before and after every rename of the deployer's
 *   records (stage, process, routes, router, splits), where the store and the router can part;
 *   before the first call of each kind of write no earlier verb was killed at; after the last.
 *
 * Pauses: every eighth call, around the record link and the last call for the reference verb;
 * each record link and the last call for the others.
 */
function plan(verb: Verb, trace: string[], root: string): Plan {
  const k = kinds(trace, root);
  const before = new Set<number>();
  const after = new Set<number>();
  const pauses = new Set<number>();
  const links = k.flatMap((kind, i) => (kind.startsWith("link /local/commits/") ? [i + 1] : []));
  expect(links.length, `${verb.name} commits through a record link`).toBeGreaterThan(0);
  for (let at = 1; at <= k.length; at++) {
    const kind = k[at - 1]!;
    const isLast = at === k.length;
    if (verb.reference) {
      before.add(at);
      if (isLast || critical(kind) || /^(handle\.sync|handle\.write|unlink) /.test(kind)) after.add(at);
      if (at % 8 === 1 || links.some((l) => at >= l - 2 && at <= l + 2) || isLast) pauses.add(at);
    } else {
      const lockTaken = kind === "mkdir /.locks/local.lock" && k[at - 2] === "mkdir /.locks";
      const deployerRecord = kind.startsWith("rename /local/data/");
      if (lockTaken || links.includes(at) || deployerRecord || !covered.has(kind)) before.add(at);
      if (links.includes(at) || deployerRecord || kind === "handle.write fd:/local/audit/events.jsonl" || isLast)
        after.add(at);
      if (links.includes(at) || isLast) pauses.add(at);
    }
    covered.add(kind);
  }
  const kills: Crash[] = [...before].map((at) => ({ at, mode: "kill", when: "before" }));
  for (const at of after)
    if (at === k.length || !before.has(at + 1) || verb.reference) kills.push({ at, mode: "kill", when: "after" });
  return { kills, pauses: [...pauses] };
}

const counts: Record<string, { points: number; kills: number; pauses: number; seconds?: number }> = {};

describe("crash-injection sweep through the real op binary", () => {
  beforeAll(() => buildDeployed(templates.deployed), 300_000);
  afterAll(() => {
    // Quoted in the issue's note: write points, kill runs and pause runs per verb.
    console.log(`crash sweep: ${JSON.stringify(counts)}`);
    const tpl = templates.deployed.root;
    op(["env", "destroy", "local", "--confirm", "--store-root", tpl]);
    stopProcessesOf(tpl);
    rmSync(work, { recursive: true, force: true });
  });

  // One verb after another (the reference first: the others' plans build on what it covered),
  // each verb's runs in parallel.
  for (const verb of VERBS) {
    it(`${verb.name}: killed before and after its write points, paused past the stale period`, async () => {
      const started = Date.now();
      const t = templates[verb.template];
      // Count the verb's write points on a clean run.
      const root = fresh(t);
      const report = join(work, `count-${verb.name.replace(" ", "-")}`);
      const { exited } = armed(root, verb.args(t), undefined, report);
      expect(await exited).toBe(0);
      await verb.converged?.(root);
      const points = reportOf(report).count;
      expect(points).toBeGreaterThan(10);
      const trace = readFileSync(report, "utf8")
        .split("\n")
        .slice(1, points + 1);
      const { kills, pauses } = plan(verb, trace, root);
      dispose(root);
      counts[verb.name] = { points, kills: kills.length, pauses: pauses.length };
      const only = process.env.GT_SWEEP_ONLY; // "kill" or "pause", to debug one kind
      const at = process.env.GT_SWEEP_AT; // one point, to debug it
      if (at !== undefined) {
        kills.splice(0, kills.length, { at: Number(at), mode: "kill", when: "before" });
        pauses.splice(0, pauses.length, Number(at));
      }
      // Kills run three wide (each run is mostly process start-up and fsync waits); pauses,
      // which sleep through the stale period, six wide.
      const failures = [
        ...(only === "pause"
          ? []
          : await pool(
              kills.map((crash) => () => killRun(verb, t, crash)),
              3,
            )),
        ...(only === "kill"
          ? []
          : await pool(
              pauses.map((at, n) => () => pauseRun(verb, t, at, n)),
              6,
            )),
      ];
      counts[verb.name]!.seconds = Math.round((Date.now() - started) / 1000);
      expect(failures).toEqual([]);
    }, 900_000);
  }
});
