import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { BIN, OP_DIR, REPO, ensureBuilt, helloBundle, helloVariant, initLocal, store } from "../helpers.js";

function freshLocal() {
  ensureBuilt();
  const s = store({ persistent: true });
  onTestFinished(() => s.dispose());
  initLocal(s);
  return s;
}

const dataDir = (root: string) => join(root, "local", "data");
const processRecord = (root: string) => {
  const dir = join(dataDir(root), "processes");
  return JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith(".json"))!), "utf8"));
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("a killed revision shows in status within 2 s, the supervisor restarts it, and the URL fails only meanwhile", async () => {
  const s = freshLocal();
  const d = s.ok(["deploy", "--bundle", helloBundle()]);
  const before = processRecord(s.root);
  // Requests to the environment URL all along: record when they fail.
  const failures: number[] = [];
  let stop = false;
  const load = (async () => {
    while (!stop) {
      const t = Date.now();
      const ok = await fetch(d.environment_url).then(
        (r) => r.status === 200,
        () => false,
      );
      if (!ok) failures.push(t);
      await sleep(20);
    }
  })();
  const killedAt = Date.now();
  process.kill(before.pid, "SIGKILL");
  // The supervisor's own record of the restart: a new pid listening on a new port.
  let restartedAfter = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 200; i++) {
    const record = processRecord(s.root);
    if (record.pid !== before.pid && record.public_port !== null) {
      restartedAfter = Date.now() - killedAt;
      break;
    }
    await sleep(25);
  }
  expect(restartedAfter).toBeLessThan(5_000);
  const seen = s.ok(["status", "local"]);
  expect(Date.now() - killedAt).toBeLessThan(2_000 + 2_000); // one op start-up on a loaded machine
  const rev = seen.revisions.find((r: any) => r.revision_id === d.revision_id);
  // Either still down, or already restarted: never "running" with no trace of the crash.
  expect(rev.live !== "running" || rev.restarts === 1, JSON.stringify(rev)).toBe(true);
  let back: any;
  for (let i = 0; i < 40; i++) {
    back = s.ok(["status", "local"]).revisions.find((r: any) => r.revision_id === d.revision_id);
    if (back.live === "running" && back.restarts === 1) break;
    await sleep(250);
  }
  expect(back).toMatchObject({ live: "running", restarts: 1, lifecycle: "ready", weight_bps: 10_000 });
  expect(back.pid).not.toBe(before.pid);
  await sleep(500);
  stop = true;
  await load;
  // Failures only between the kill and the restart, which took well under 5 s.
  if (failures.length > 0) expect(Math.max(...failures) - killedAt).toBeLessThan(5_000);
  expect((await fetch(d.environment_url)).status).toBe(200);
  const log = readFileSync(join(dataDir(s.root), "router", "router.log"), "utf8");
  expect(log).toContain('"msg":"revision restarted"');
  expect(log).toContain(`"old_pid":${before.pid}`);

  // The router itself: kill -9 of the process serving the URL. Its keeper (the recorded
  // process) starts it again on the same port; status counts the restart.
  const routerDir = join(dataDir(s.root), "router");
  const served = s.ok(["status", "local"]).router;
  expect(served).toMatchObject({ state: "running", restarts: 0, url: d.environment_url });
  const keeper = JSON.parse(readFileSync(join(routerDir, "router.json"), "utf8")).pid;
  expect(served.pid).not.toBe(keeper);
  const routerKilledAt = Date.now();
  process.kill(served.pid, "SIGKILL");
  let servedAgainAfter = Number.POSITIVE_INFINITY;
  while (Date.now() - routerKilledAt < 10_000) {
    const ok = await fetch(d.environment_url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) {
      servedAgainAfter = Date.now() - routerKilledAt;
      break;
    }
    await sleep(50);
  }
  expect(servedAgainAfter, readFileSync(join(routerDir, "router.log"), "utf8")).toBeLessThan(5_000);
  const restarted = s.ok(["status", "local"]);
  expect(restarted.router).toMatchObject({ state: "running", restarts: 1, url: d.environment_url });
  expect(restarted.router.pid).not.toBe(served.pid);
  expect(restarted.healthy).toBe(true);
  expect(s.op(["status", "local"]).stdout).toContain(
    `router:      running (pid ${restarted.router.pid}), restarted 1 time(s)`,
  );
  const routerLog = readFileSync(join(routerDir, "router.log"), "utf8");
  expect(routerLog).toContain(
    `"msg":"router restarted","old_pid":${served.pid},"pid":${restarted.router.pid},"restarts":1`,
  );

  // kill -9 of the keeper: the router goes on serving and starts a new keeper, which the
  // deployer's record names from then on.
  process.kill(keeper, "SIGKILL");
  let adopted = keeper;
  for (let i = 0; i < 100 && adopted === keeper; i++) {
    await sleep(50);
    adopted = JSON.parse(readFileSync(join(routerDir, "router.json"), "utf8")).pid;
  }
  expect(adopted).not.toBe(keeper);
  expect((await fetch(d.environment_url)).status).toBe(200);
  expect(s.ok(["status", "local"]).router).toMatchObject({ state: "running", pid: restarted.router.pid, restarts: 1 });
}, 120_000);

it("with the router and the revision killed, status and doctor say so in sentences and doctor exits 1", () => {
  const s = freshLocal();
  const d = s.ok(["deploy", "--bundle", helloBundle()]);
  const router = JSON.parse(readFileSync(join(dataDir(s.root), "router", "router.json"), "utf8"));
  // The router's keeper and the router it runs (one process group): nothing restarts either.
  process.kill(-router.pid, "SIGKILL");
  process.kill(processRecord(s.root).pid, "SIGKILL");
  spawnSync("sleep", ["0.3"]);
  const st = s.ok(["status", "local"]);
  expect(st.healthy).toBe(false);
  expect(st.environment_url).toBeNull();
  expect(st.revisions[0]).toMatchObject({ revision_id: d.revision_id, live: "down", weight_bps: 10_000 });
  expect(st.problems).toContain(`The environment URL does not answer: its router is down (pid ${router.pid}).`);
  expect(st.problems).toContain(`Revision ${d.revision_id} carries 100% of deployment ${d.deployment_id} but is down.`);
  const doctor = s.op(["env", "doctor", "local", "--no-preflight"]);
  expect(doctor.status).toBe(1);
  expect(doctor.stdout).toContain("Environment local: problems found");
  expect(doctor.stdout).toContain(
    `Revision ${d.revision_id} carries 100% of deployment ${d.deployment_id} but is down.`,
  );
  expect(doctor.stdout).not.toContain("{");
  // env list reads what runs too, not the stored state.
  const listed = s.ok(["env", "list"]).environments.find((e: any) => e.environment_id === "local");
  expect(listed).toMatchObject({ status: "ok", health: "unhealthy" });
  expect(listed.problems).toEqual(st.problems);
  expect(s.op(["env", "list"]).stdout).toMatch(/local .* ok +unhealthy: 2 problem\(s\)/);
  // The way back: warming the revision again starts it and the router (which supervises it).
  s.ok(["revisions", "warm", "local", d.revision_id]);
  expect(s.ok(["status", "local"]).healthy).toBe(true);
  expect(s.ok(["env", "list"]).environments.find((e: any) => e.environment_id === "local")).toMatchObject({
    health: "healthy",
    problems: [],
  });
}, 120_000);

it("op status shows the requests and 5xx answers the router counted per revision, the same figures the clients saw", async () => {
  const s = freshLocal();
  const d = s.ok(["deploy", "--bundle", helloBundle()]);
  const seen = { requests: 0, errors: 0 };
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = await fetch(d.environment_url);
      await r.arrayBuffer();
      expect(r.headers.get("x-greentic-revision")).toBe(d.revision_id);
      seen.requests += 1;
      if (r.status >= 500) seen.errors += 1;
    }
  };
  await send(7);
  expect(seen).toEqual({ requests: 7, errors: 0 });
  // Requests right after a kill -9 meet no process (the supervisor waits 250 ms before its
  // restart): the router answers 502 for the revision and counts each as an error.
  process.kill(processRecord(s.root).pid, "SIGKILL");
  await send(3);
  expect(seen.errors).toBeGreaterThanOrEqual(1);
  // Once back, more requests; the counters are written at most 500 ms after the last one.
  let back = false;
  for (let i = 0; i < 100 && !back; i++) {
    back = (await fetch(d.environment_url).then((r) => r.status)) === 200;
    seen.requests += 1;
    if (!back) seen.errors += 1;
    if (!back) await sleep(50);
  }
  expect(back).toBe(true);
  await sleep(1_200);
  const rev = s.ok(["status", "local"]).revisions.find((r: any) => r.revision_id === d.revision_id);
  expect({ requests: rev.requests, errors: rev.errors }).toEqual(seen);
  const text = s.op(["status", "local"]).stdout;
  expect(text).toMatch(/RESTARTS +REQUESTS +ERRORS +AGE/);
  expect(text).toMatch(new RegExp(`${d.revision_id} .* ${seen.requests} +${seen.errors} +\\d+[smhd]`));
}, 120_000);

/** Every file under `dir` (relative path, mode, sha256), to compare a tree before and after a read. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const path = join(dir, rel);
    const info = lstatSync(path);
    if (info.isDirectory()) {
      out.push(`${rel}/ ${info.mode.toString(8)}`);
      for (const name of readdirSync(path).sort()) walk(rel === "" ? name : `${rel}/${name}`);
    } else out.push(`${rel} ${info.mode.toString(8)} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
  };
  walk("");
  return out;
}

/** `op traffic set local <rev>=100`, killed with SIGKILL after the store commit, before the router reloads. */
function crashedTrafficSet(s: ReturnType<typeof freshLocal>, deploymentId: string, revisionId: string) {
  return spawnSync(
    process.execPath,
    [
      "--import",
      join(OP_DIR, "test", "fixtures", "kill-on-sighup.mjs"),
      BIN,
      "traffic",
      "set",
      "local",
      `${revisionId}=100`,
      "--deployment",
      deploymentId,
      "--idempotency-key",
      "move",
      "--store-root",
      s.root,
    ],
    { cwd: REPO, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
  );
}

async function twoRevisions(s: ReturnType<typeof freshLocal>) {
  const a = s.ok(["deploy", "--bundle", helloVariant("a")]);
  const b = s.ok([
    "revisions",
    "stage",
    "local",
    "--deployment",
    a.deployment_id,
    "--bundle",
    helloVariant("b"),
  ]).revision;
  s.ok(["revisions", "warm", "local", b.revision_id]);
  return { a, b };
}

/** Polls the environment URL until revision `want` answers; the time it took from `since`. */
async function servedAfter(url: string, want: string, since: number, limitMs = 10_000): Promise<number> {
  while (Date.now() - since < limitMs) {
    const revision = await fetch(url).then(
      (r) => r.headers.get("x-greentic-revision"),
      () => null,
    );
    if (revision === want) return Date.now() - since;
    await sleep(50);
  }
  return Number.POSITIVE_INFINITY;
}

it("kill -9 between the store commit and the router update: the router's supervisor applies the stored split within 5 s, with no command", async () => {
  const s = freshLocal();
  const { a, b } = await twoRevisions(s);
  const crashed = crashedTrafficSet(s, a.deployment_id, b.revision_id);
  const killedAt = Date.now();
  expect(crashed.signal).toBe("SIGKILL");
  expect(await servedAfter(a.environment_url, b.revision_id, killedAt)).toBeLessThan(5_000);
  const log = readFileSync(join(dataDir(s.root), "router", "router.log"), "utf8");
  expect(log).toContain(`"msg":"traffic drift repaired","deployments":["${a.deployment_id}"]`);
  expect(s.ok(["status", "local"]).drift).toEqual([]);
  expect(s.op(["env", "doctor", "local", "--no-preflight"]).status).toBe(0);
}, 120_000);

it("drift while the router is stopped: traffic show, status and doctor report it, traffic show writes nothing, and the router repairs it once it runs", async () => {
  const s = freshLocal();
  const { a, b } = await twoRevisions(s);
  // The router proper (listen.json; router.json names its keeper).
  const router = JSON.parse(readFileSync(join(dataDir(s.root), "router", "listen.json"), "utf8"));
  // A stopped router neither serves nor repairs: the drift stays for the reads to see.
  process.kill(router.pid, "SIGSTOP");
  onTestFinished(() => {
    try {
      process.kill(router.pid, "SIGCONT");
    } catch {}
  });
  expect(crashedTrafficSet(s, a.deployment_id, b.revision_id).signal).toBe("SIGKILL");
  const drift = [
    {
      deployment_id: a.deployment_id,
      desired: [{ revision_id: b.revision_id, weight_bps: 10_000 }],
      live: [{ revision_id: a.revision_id, weight_bps: 10_000 }],
    },
  ];
  const envDir = join(s.root, "local");
  const before = snapshot(envDir);
  const shown = s.ok(["traffic", "show", "local"]);
  expect(shown.drift).toEqual(drift);
  expect(shown.repaired).toBeUndefined();
  expect(snapshot(envDir)).toEqual(before);
  const st = s.ok(["status", "local"]);
  expect(st.drift).toEqual(drift);
  expect(st.healthy).toBe(false);
  const doctor = s.op(["env", "doctor", "local", "--no-preflight"]);
  expect(doctor.status).toBe(1);
  expect(doctor.stdout).toContain(
    `Deployment ${a.deployment_id}: the router serves ${a.revision_id}=10000 but the store asks for ${b.revision_id}=10000 (the router applies the stored split within seconds; so does the next traffic command).`,
  );
  const resumedAt = Date.now();
  process.kill(router.pid, "SIGCONT");
  expect(await servedAfter(a.environment_url, b.revision_id, resumedAt)).toBeLessThan(5_000);
  expect(s.ok(["status", "local"]).drift).toEqual([]);
  expect(s.op(["env", "doctor", "local", "--no-preflight"]).status).toBe(0);
}, 120_000);
