import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOperations,
  deploy,
  envDestroy,
  envInit,
  envShow,
  revisionsShow,
  trafficShow,
  type OperationsContext,
} from "../src/index.js";
import { buildFixture, expectKind, fetchText, isAlive, makeTemp, removeTemp, waitGone } from "./helpers.js";

/** Listens on a free loopback port and keeps it, so that the port is taken until `close`. */
async function holdFreePort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return { port: (server.address() as { port: number }).port, server };
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// The operator's fixed router port: `router_listen` in env-packs/deployer/answers.json, read
// through the store into the deployer's handler context. Tests share state and run in order.
describe("router_listen from the deployer's stored answers (local-process)", { timeout: 120_000 }, () => {
  let temp: string;
  let ops: OperationsContext;
  let bundle: string;
  let holder: { port: number; server: Server };
  const pids = new Set<number>();
  const state: { routerPid?: number; revisionId?: string } = {};

  beforeAll(async () => {
    temp = await makeTemp("router-listen");
    bundle = await buildFixture("hello", temp, "1.0.0");
    ops = createOperations({ storeRoot: join(temp, "store"), warmTimeoutMs: 60_000 });
    await envInit(ops, {});
    holder = await holdFreePort();
    await ops.store.transact(
      "local",
      (current, tx) => {
        tx.setPackAnswers("deployer", { router_listen: `127.0.0.1:${holder.port}` });
        return { environment: current!, result: null };
      },
      { noun: "env-packs", verb: "answers" },
    );
  });

  afterAll(async () => {
    if (holder?.server.listening) await close(holder.server);
    if (ops !== undefined && existsSync(join(temp, "store", "local"))) {
      await envDestroy(ops, "local", { confirm: true }).catch(() => undefined);
    }
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    await removeTemp(temp);
  });

  it("a taken router port fails the traffic step with io router-start-failed and leaves no router", async () => {
    expect(await ops.store.loadPackAnswers("local", "deployer")).toEqual({ router_listen: `127.0.0.1:${holder.port}` });
    const failed = await expectKind(
      deploy(ops, { bundle_path: bundle, bundle_id: "hello" }, { idempotencyKey: "fixed-port" }),
      "io",
    );
    expect(failed.details).toMatchObject({ code: "router-start-failed", listen: `127.0.0.1:${holder.port}` });
    expect(failed.message).toContain("EADDRINUSE");
    expect((await envShow(ops, "local")).router).toEqual({ state: "stopped", pid: null, url: null, restarts: null });
    expect((await trafficShow(ops, "local")).environment_url).toBeNull();
  });

  it("once the port is free, the same deploy finishes and the environment answers on exactly that port", async () => {
    await close(holder.server);
    const result = await deploy(ops, { bundle_path: bundle, bundle_id: "hello" }, { idempotencyKey: "fixed-port" });
    const url = `http://127.0.0.1:${holder.port}/`;
    expect(result.environment_url).toBe(url);
    state.revisionId = result.revision_id;
    const { environment, router } = await envShow(ops, "local");
    // The retry finished the first attempt's revision instead of staging another.
    expect(environment.revisions.map((r) => [r.revision_id, r.lifecycle])).toEqual([[result.revision_id, "ready"]]);
    expect(router).toEqual({ state: "running", pid: expect.any(Number), url, restarts: 0 });
    state.routerPid = router!.pid!;
    pids.add(state.routerPid);
    pids.add((await revisionsShow(ops, "local", result.revision_id)).runtime!.pid!);
    const page = await fetchText(url);
    expect(page).toMatchObject({ status: 200, revision: result.revision_id });
    expect(page.text).toContain("This is version 1 of the hello bundle.");
    expect((await trafficShow(ops, "local")).environment_url).toBe(url);
  });

  it("env destroy stops the router and the revision", async () => {
    await envDestroy(ops, "local", { confirm: true });
    expect(pids.size).toBe(2);
    for (const pid of pids) expect(await waitGone(pid), `pid ${pid} still running`).toBe(true);
  });
});
