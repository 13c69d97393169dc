import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHostExecutor } from "../src/executor.js";
import { proxyLayout, proxyWorkerPid, waitForNewProxyWorker } from "../src/proxy.js";
import { freePort, specOf } from "./helpers.js";

// HAProxy from the distribution, master-worker as the proxy unit runs it, on this host: a reload
// is over only once the new worker serves, and a lost reload signal is sent again.
// No skip: scripts/setup.sh installs HAProxy, and a test that does not run proves nothing.
if (spawnSync("haproxy", ["-v"]).status !== 0)
  throw new Error("haproxy is not installed: run scripts/setup.sh (it installs the distribution's haproxy)");

const dir = mkdtempSync(join(tmpdir(), "gt-proxy-reload-"));
const executor = createHostExecutor({ root: dir });
const spec = specOf({
  apiVersion: "greentic.ai/v1alpha1",
  kind: "Deployment",
  metadata: { name: "acme" },
  spec: { bundle: { source: "/b.gtbundle" }, runtime: { binary: "/r.js" }, rollout: { strategy: "canary" } },
});
const socket = join(dir, proxyLayout(spec).socket);
const cfg = join(dir, "haproxy.cfg");
const pidFile = join(dir, "haproxy.pid");
let port = 0;
const serve = (answer: string) =>
  writeFileSync(
    cfg,
    [
      "global",
      `  stats socket ${socket} mode 600 level admin expose-fd listeners`,
      "defaults",
      "  mode http",
      "  timeout client 5s",
      "  timeout server 5s",
      "  timeout connect 1s",
      "frontend web",
      `  bind 127.0.0.1:${port}`,
      `  http-request return status 200 content-type text/plain string "${answer}"`,
      "",
    ].join("\n"),
  );
const get = () =>
  new Promise<string>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
const master = () => Number(readFileSync(pidFile, "utf8"));
const reload = async () => process.kill(master(), "SIGUSR2");

beforeAll(async () => {
  port = await freePort();
  mkdirSync(join(socket, ".."), { recursive: true });
  serve("v0");
  const child = spawn("haproxy", ["-Ws", "-f", cfg, "-p", pidFile], { stdio: "ignore", detached: true });
  child.unref();
  for (let i = 0; i < 200 && (await proxyWorkerPid(executor, spec).catch(() => 0)) === 0; i++)
    await new Promise((r) => setTimeout(r, 25));
});
afterAll(() => {
  try {
    process.kill(master(), "SIGTERM");
  } catch {}
  rmSync(dir, { recursive: true, force: true });
});

describe("proxy reload", () => {
  it("returns once the new worker serves: every request after it sees the new configuration", async () => {
    let stale = 0;
    for (let round = 1; round <= 10; round++) {
      serve(`v${round}`);
      const old = await proxyWorkerPid(executor, spec);
      await reload();
      const worker = await waitForNewProxyWorker(executor, spec, old, reload);
      expect(worker).not.toBe(old);
      for (let i = 0; i < 10; i++) if ((await get()) !== `v${round}`) stale++;
    }
    expect(stale).toBe(0);
  }, 60_000);

  it("sends a lost reload again after 3 s", async () => {
    serve("resent");
    const old = await proxyWorkerPid(executor, spec);
    let resent = 0;
    // No reload is sent first: as if the master had missed the signal.
    const worker = await waitForNewProxyWorker(executor, spec, old, async () => {
      resent++;
      await reload();
    });
    expect([resent, worker === old, await get()]).toEqual([1, false, "resent"]);
  }, 20_000);

  it("gives up with the unit named when no new worker comes", async () => {
    const old = await proxyWorkerPid(executor, spec);
    const error = await waitForNewProxyWorker(executor, spec, old, async () => {}, 500).catch((e: Error) => e);
    expect(error).toMatchObject({
      kind: "io",
      message: `the proxy greentic-acme-proxy.service did not take its new configuration within 0.5 s (worker ${old} still answers; last answer: ${old})`,
    });
  });
});
