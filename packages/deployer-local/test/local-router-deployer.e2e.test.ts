import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { buildBundle } from "@greentic/bundle";
import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { HandlerContext, RevisionRef } from "@greentic/env-packs";
import { LocalProcessDeployer, localRouterStatus, localRouterUrl } from "../src/index.js";
import { buildRouter, buildRuntime, contextFor, isRunning, poll, testDir } from "./helpers.js";

const repo = resolve(import.meta.dirname, "../../..");
let work = "";
let bundleV1 = "";
let bundleV2 = "";
let routerBin = "";

beforeAll(async () => {
  await buildRuntime();
  work = await mkdtemp(join(tmpdir(), "env-packs-router-e2e-"));
  routerBin = await buildRouter(join(work, "router"));
  bundleV1 = join(work, "hello.gtbundle");
  bundleV2 = join(work, "hello-v2.gtbundle");
  await buildBundle({
    sourceDir: join(repo, "fixtures/bundles/hello"),
    outFile: bundleV1,
    bundleId: "hello",
    version: "1.0.0",
  });
  await buildBundle({
    sourceDir: join(repo, "fixtures/bundles/hello-v2"),
    outFile: bundleV2,
    bundleId: "hello",
    version: "2.0.0",
  });
}, 180_000);
afterAll(() => rm(work, { recursive: true, force: true }));

const DEPLOYMENT = "01JDEPLOYMENTROUTERAAAAAAA";
const rev = (revision_id: string): RevisionRef => ({ revision_id, deployment_id: DEPLOYMENT, bundle_id: "hello" });
const r1 = rev("01JREVISIONROUTERAAAAAAAA1");
const r2 = rev("01JREVISIONROUTERAAAAAAAA2");

const split = (weights: [RevisionRef, number][]) => ({
  split: {
    deployment_id: DEPLOYMENT,
    bundle_id: "hello",
    entries: weights.map(([revision, weight_bps]) => ({ revision_id: revision.revision_id, weight_bps })),
  },
  revisions: weights.map(([revision]) => revision),
});

async function rejection(fn: () => Promise<unknown>): Promise<GreenticError> {
  try {
    await fn();
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

/** Destroys the environment when the test ends (even after a failed assertion): no process is left. */
function cleanupAfter(deployer: LocalProcessDeployer, ctx: HandlerContext): void {
  onTestFinished(async () => {
    await deployer.destroy(ctx).catch(() => undefined);
  });
}

async function revisionsOf(url: string, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    out.push(response.headers.get("x-greentic-revision") ?? "(none)");
    await response.text();
  }
  return out;
}

/** Pids of live processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text) && (await isRunning(Number(name)))) out.push(Number(name));
  }
  return out;
}

describe("greentic.deployer.local-process router", () => {
  it("gives the environment one URL that follows the split, reloads in place and reports a dead revision", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const deployer = new LocalProcessDeployer({ routerBin });
    cleanupAfter(deployer, ctx);
    for (const [revision, bundlePath] of [
      [r1, bundleV1],
      [r2, bundleV2],
    ] as const) {
      await deployer.stage(ctx, { revision, bundlePath });
      expect(await deployer.warm(ctx, { revision, timeoutMs: 60_000 })).toMatchObject({ ok: true });
    }
    // The first warm starts the router (it supervises the revisions); it has no split to serve yet.
    const early = await localRouterStatus(ctx);
    expect(early).toMatchObject({ state: "running", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/) });
    expect((await fetch(early.url!)).status).toBe(503);

    // 100/0: everything goes to r1, through the same router.
    await deployer.applyTrafficSplit(
      ctx,
      split([
        [r1, 10_000],
        [r2, 0],
      ]),
    );
    const router = await localRouterStatus(ctx);
    expect(router).toMatchObject({
      state: "running",
      pid: expect.any(Number),
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/),
      listen: "127.0.0.1:0",
    });
    const url = router.url!;
    expect(await localRouterUrl(ctx)).toBe(url);
    expect(await revisionsOf(url, 10)).toEqual(Array(10).fill(r1.revision_id));
    const page = await (await fetch(url)).text();
    expect(page).toContain((await readFile(join(repo, "fixtures/bundles/hello/index.html"), "utf8")).slice(0, 40));

    // 90/10: exactly 9:1 over the next 10 requests, same router process.
    await deployer.applyTrafficSplit(
      ctx,
      split([
        [r1, 9_000],
        [r2, 1_000],
      ]),
    );
    const picks = await revisionsOf(url, 10);
    expect(picks.filter((id) => id === r1.revision_id)).toHaveLength(9);
    expect(picks.filter((id) => id === r2.revision_id)).toHaveLength(1);
    expect((await deployer.routerStatus(ctx)).pid).toBe(router.pid);

    // 0/100 while clients keep sending requests: none fails, and the router is not restarted.
    let stop = false;
    const outcomes: (number | string)[] = [];
    const clients = Array.from({ length: 3 }, async () => {
      while (!stop) {
        const response = await fetch(url).catch((error: Error) => error.message);
        outcomes.push(typeof response === "string" ? response : response.status);
        if (typeof response !== "string") await response.text();
      }
    });
    await poll("clients to get going", async () => (outcomes.length >= 6 ? true : undefined));
    await deployer.applyTrafficSplit(
      ctx,
      split([
        [r1, 0],
        [r2, 10_000],
      ]),
    );
    const afterChange = outcomes.length;
    await poll("clients to send more requests", async () => (outcomes.length >= afterChange + 6 ? true : undefined));
    stop = true;
    await Promise.all(clients);
    expect(outcomes.filter((outcome) => outcome !== 200)).toEqual([]);
    expect(await revisionsOf(url, 5)).toEqual(Array(5).fill(r2.revision_id));
    expect((await deployer.routerStatus(ctx)).pid).toBe(router.pid);

    // r2's runtime dies: the router's supervisor starts it again and the route follows its new port.
    const runtimePid = (await deployer.status(ctx)).find((status) => status.revision_id === r2.revision_id)!.pid!;
    process.kill(runtimePid, "SIGKILL");
    await poll("the runtime to die", async () => ((await isRunning(runtimePid)) ? undefined : true));
    const restarted = await poll("the supervisor to restart r2", async () => {
      const s2 = (await deployer.status(ctx)).find((status) => status.revision_id === r2.revision_id)!;
      return s2.state === "running" && s2.restarts === 1 && s2.url !== undefined ? s2 : undefined;
    });
    expect(restarted.pid).not.toBe(runtimePid);
    await poll("requests to reach r2 again", async () => ((await fetch(url)).status === 200 ? true : undefined));
    expect(await revisionsOf(url, 2)).toEqual([r2.revision_id, r2.revision_id]);
    expect((await deployer.routerStatus(ctx)).pid).toBe(router.pid);

    // Destroy stops the router with the revisions.
    await deployer.destroy(ctx);
    expect(await isRunning(router.pid!)).toBe(false);
    expect(await deployer.routerStatus(ctx)).toEqual({ state: "stopped" });
    expect(await processesMentioning(root)).toEqual([]);
  }, 240_000);

  it("runs one router per environment on the address the answers give, and refuses a bad or taken one", async () => {
    const root = await testDir();
    const deployer = new LocalProcessDeployer({ routerBin });
    const ctxA = contextFor(root, "env-a", { answers: { router_listen: "127.0.0.1:0" } });
    const ctxB = contextFor(root, "env-b");
    const taken = createServer((_req, res) => res.end("someone else"));
    await new Promise<void>((done) => taken.listen(0, "127.0.0.1", done));
    onTestFinished(() => void taken.close());
    const port = (taken.address() as AddressInfo).port;
    const ctxC = contextFor(root, "env-c", { answers: { router_listen: `127.0.0.1:${port}` } });
    for (const ctx of [ctxA, ctxB, ctxC]) {
      cleanupAfter(deployer, ctx);
      await deployer.stage(ctx, { revision: r1, bundlePath: bundleV1 });
    }

    await deployer.applyTrafficSplit(ctxA, split([[r1, 10_000]]));
    await deployer.applyTrafficSplit(ctxB, split([[r1, 10_000]]));
    const [a, b] = [await localRouterStatus(ctxA), await localRouterStatus(ctxB)];
    expect(a.state).toBe("running");
    expect(b.state).toBe("running");
    expect(a.pid).not.toBe(b.pid);
    expect(a.url).not.toBe(b.url);
    // An op killed between starting the router and recording it leaves a router no record
    // names: the next start stops it rather than running a second one on the same state.
    const routerDir = dirname(a.log!);
    const orphans = await processesMentioning(routerDir);
    expect(orphans).toHaveLength(2); // the keeper and its worker
    await rm(join(routerDir, "router.json"));
    await deployer.applyTrafficSplit(ctxA, split([[r1, 10_000]]));
    const restarted = await localRouterStatus(ctxA);
    expect(restarted.state).toBe("running");
    for (const pid of orphans) expect(await isRunning(pid)).toBe(false);
    expect(await processesMentioning(routerDir)).toHaveLength(2);
    a.pid = restarted.pid!;
    a.url = restarted.url!;

    // Staged but never warmed: chosen by the split, not running.
    const down = await fetch(a.url!);
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({
      revision_id: r1.revision_id,
      message: expect.stringContaining("is not running"),
    });

    const busy = await rejection(() => deployer.applyTrafficSplit(ctxC, split([[r1, 10_000]])));
    expect(busy).toMatchObject({ kind: "io", details: { code: "router-start-failed" } });
    expect(busy.message).toContain("EADDRINUSE");
    expect(busy.hint).toContain("router_listen");
    expect(await localRouterStatus(ctxC)).toEqual({ state: "stopped" });
    expect((await deployer.runtimeConfig(ctxC)).revisions).toEqual([]);

    // Once the port is free the router takes exactly that address.
    await new Promise((done) => taken.close(done));
    await deployer.applyTrafficSplit(ctxC, split([[r1, 10_000]]));
    expect(await localRouterUrl(ctxC)).toBe(`http://127.0.0.1:${port}/`);

    for (const bad of ["0.0.0.0:8080", "127.0.0.1", "[::1]:99999"]) {
      const ctx = contextFor(root, "env-d", { answers: { router_listen: bad } });
      const error = await rejection(() => deployer.applyTrafficSplit(ctx, split([[r1, 10_000]])));
      expect(error.kind).toBe("validation");
      expect(error.message).toContain("router_listen");
    }

    const pids = [a.pid!, b.pid!, (await localRouterStatus(ctxC)).pid!];
    for (const ctx of [ctxA, ctxB, ctxC]) await deployer.destroy(ctx);
    for (const pid of pids) expect(await isRunning(pid)).toBe(false);
    expect(await processesMentioning(root)).toEqual([]);
  }, 120_000);
});
