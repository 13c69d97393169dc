import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import {
  UPSTREAM_CONNECT_TIMEOUT_MS,
  UPSTREAM_IDLE_MS,
  WeightedPicker,
  parseListenAddress,
  type LocalRouteDeployment,
  type LocalRouterListenFile,
} from "../src/local-router.js";
import { WORKER_FLAG } from "../src/router-keeper.js";
import { buildRouter, isRunning, poll, testDir } from "./helpers.js";

// The router process is started straight from its bundled entry, in front of upstream HTTP
// servers run by the test, so every behaviour (streaming, holding a response, refusing a
// connection) is under the test's control. local-router-deployer.e2e.test.ts covers the
// router behind the local-process deployer and real runtimes.

let buildDir = "";
let routerBin = "";

beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), "env-packs-router-build-"));
  routerBin = await buildRouter(buildDir);
}, 120_000);
afterAll(() => rm(buildDir, { recursive: true, force: true }));

/** An upstream HTTP server on loopback, closed when the test finishes. */
async function upstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ port: number; server: Server; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, server, seen };
}

const says = (text: string) => (_req: IncomingMessage, res: ServerResponse) => res.end(text);

interface RouterProcess {
  pid: number;
  url: string;
  dir: string;
  /** The exit code, once the process ends. */
  exit: Promise<number | null>;
  /** Writes routes.json atomically, sends SIGHUP and waits until the router reports them loaded. */
  apply(deployments: LocalRouteDeployment[]): Promise<LocalRouterListenFile>;
  listen(): Promise<LocalRouterListenFile>;
}

async function startRouter(): Promise<RouterProcess> {
  const dir = await testDir("env-packs-router-");
  // The router proper, without its keeper (router-keeper.ts): this test process stands in for it.
  const child = spawn(
    process.execPath,
    [routerBin, "--state-dir", dir, "--listen", "127.0.0.1:0", WORKER_FLAG, String(process.pid)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const pid = child.pid!;
  const exit = new Promise<number | null>((resolve) => child.on("exit", resolve));
  onTestFinished(async () => {
    child.kill("SIGKILL");
    await poll(`router ${pid} to exit`, async () => ((await isRunning(pid)) ? undefined : true));
  });
  const listenFile = join(dir, "listen.json");
  const listen = async () => JSON.parse(await readFile(listenFile, "utf8")) as LocalRouterListenFile;
  const first = await poll(`router listen.json (output so far: ${output})`, async () =>
    existsSync(listenFile) ? listen() : undefined,
  );
  return {
    pid,
    url: first.url,
    dir,
    exit,
    listen,
    async apply(deployments) {
      const version = randomBytes(8).toString("hex");
      const temp = join(dir, `.routes-${version}.tmp`);
      await writeFile(
        temp,
        JSON.stringify({ schema: "greentic.local-process.routes.v1", env_id: "test", version, deployments }),
      );
      await rename(temp, join(dir, "routes.json"));
      process.kill(pid, "SIGHUP");
      return poll("the router to load the routes", async () => {
        const current = await listen();
        return current.routes_version === version ? current : undefined;
      });
    },
  };
}

const deployment = (
  entries: [string, number, number | null][],
  deployment_id = "01JDEPLOYMENT",
): LocalRouteDeployment => ({
  deployment_id,
  bundle_id: "hello",
  entries: entries.map(([revision_id, weight_bps, port]) => ({ revision_id, weight_bps, port })),
});

async function revisionsOf(url: string, count: number, headers: Record<string, string> = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const response = await fetch(url, { headers });
    expect(response.status).toBe(200);
    out.push(response.headers.get("x-greentic-revision") ?? "(none)");
    await response.text();
  }
  return out;
}

describe("WeightedPicker", () => {
  const pick = (weights: number[], count: number) => {
    const picker = new WeightedPicker(weights.map((weight_bps, index) => ({ name: `r${index}`, weight_bps })));
    return Array.from({ length: count }, () => picker.next()?.name);
  };
  const counts = (names: (string | undefined)[]) =>
    names.reduce<Record<string, number>>((acc, name) => ({ ...acc, [String(name)]: (acc[String(name)] ?? 0) + 1 }), {});

  it("gives exactly 9:1 over every 10 picks of a 90/10 split, interleaved", () => {
    const picks = pick([9_000, 1_000], 30);
    for (let start = 0; start < 30; start += 10)
      expect(counts(picks.slice(start, start + 10))).toEqual({ r0: 9, r1: 1 });
    expect(picks.slice(0, 10)).toEqual(["r0", "r0", "r0", "r0", "r0", "r1", "r0", "r0", "r0", "r0"]);
  });

  it("never picks a zero weight, honours 1 bps exactly, and splits three ways by weight", () => {
    expect(new Set(pick([10_000, 0], 50))).toEqual(new Set(["r0"]));
    expect(new Set(pick([0, 10_000], 50))).toEqual(new Set(["r1"]));
    expect(counts(pick([1, 9_999], 10_000))).toEqual({ r0: 1, r1: 9_999 });
    expect(counts(pick([5_000, 3_000, 2_000], 10))).toEqual({ r0: 5, r1: 3, r2: 2 });
    expect(new WeightedPicker([{ weight_bps: 0 }]).next()).toBeUndefined();
  });
});

describe("parseListenAddress", () => {
  it("accepts loopback host:port and refuses anything else with a reason", () => {
    expect(parseListenAddress("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListenAddress("localhost:9000")).toEqual({ host: "127.0.0.1", port: 9000 });
    expect(() => parseListenAddress("0.0.0.0:8080")).toThrow(/not a loopback address/);
    expect(() => parseListenAddress("10.0.0.1:8080")).toThrow(/not a loopback address/);
    expect(() => parseListenAddress("127.0.0.1")).toThrow(/is not host:port/);
    expect(() => parseListenAddress("127.0.0.1:70000")).toThrow(
      '"127.0.0.1:70000" is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080), port 0-65535',
    );
    // The I/O kit's one loopback rule: all of 127.0.0.0/8 and the IPv4-mapped form.
    expect(parseListenAddress("127.0.0.2:80")).toEqual({ host: "127.0.0.2", port: 80 });
    expect(parseListenAddress("[::ffff:127.0.0.1]:80")).toEqual({ host: "::ffff:127.0.0.1", port: 80 });
    expect(() => parseListenAddress("[::]:80")).toThrow('"::" is not a loopback address');
  });
});

describe("the local router process", () => {
  it("answers 503 until a split is applied, then routes 90/10 exactly 9:1 with the revision header", async () => {
    const a = await upstream(says("from a"));
    const b = await upstream(says("from b"));
    const router = await startRouter();
    const empty = await fetch(router.url);
    expect(empty.status).toBe(503);
    expect(await empty.json()).toMatchObject({
      error: "no-traffic-split",
      message: expect.stringContaining("no traffic split"),
    });

    await router.apply([
      deployment([
        ["rev-a", 10_000, a.port],
        ["rev-b", 0, b.port],
      ]),
    ]);
    expect(await revisionsOf(router.url, 10)).toEqual(Array(10).fill("rev-a"));

    await router.apply([
      deployment([
        ["rev-a", 9_000, a.port],
        ["rev-b", 1_000, b.port],
      ]),
    ]);
    const picks = await revisionsOf(router.url, 10);
    expect(picks.filter((name) => name === "rev-a")).toHaveLength(9);
    expect(picks.filter((name) => name === "rev-b")).toHaveLength(1);
    expect(await (await fetch(router.url)).text()).toBe("from a");
    expect((await router.listen()).pid).toBe(router.pid);
  });

  it("streams request and response bodies both ways and forwards the request faithfully", async () => {
    const echo = await upstream((req, res) => {
      res.writeHead(201, { "content-type": "text/plain", "x-upstream": "yes" });
      res.flushHeaders();
      req.on("data", (chunk: Buffer) => res.write(chunk));
      req.on("end", () => res.end("|end"));
    });
    const router = await startRouter();
    await router.apply([deployment([["rev-echo", 10_000, echo.port]])]);
    const { port } = new URL(router.url);

    // Each chunk is sent only after the previous one came back: this can only finish if the
    // router forwards both bodies as they flow, without buffering either.
    const received = await new Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }>(
      (resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            method: "POST",
            path: "/echo?x=1",
            headers: { "x-custom": "kept", "transfer-encoding": "chunked" },
          },
          (res) => {
            let body = "";
            let sent = 1;
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              body += chunk;
              if (body.endsWith(`ping-${sent}`) && sent < 3) {
                sent += 1;
                req.write(`ping-${sent}`);
                if (sent === 3) req.end();
              }
            });
            res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
          },
        );
        req.on("error", reject);
        req.write("ping-1");
      },
    );
    expect(received.status).toBe(201);
    expect(received.body).toBe("ping-1ping-2ping-3|end");
    expect(received.headers).toMatchObject({ "x-greentic-revision": "rev-echo", "x-upstream": "yes" });
    const seen = echo.seen[0]!;
    expect(seen.url).toBe("/echo?x=1");
    expect(seen.method).toBe("POST");
    expect(seen.headers).toMatchObject({
      "x-custom": "kept",
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-host": `127.0.0.1:${port}`,
    });
  });

  it("appends to X-Forwarded-For, reuses upstream connections, and tunnels a WebSocket upgrade", async () => {
    const sockets = new Set<unknown>();
    const echo = await upstream((_req, res) => res.end("ok"));
    echo.server.on("connection", (socket) => sockets.add(socket));
    // A minimal upgrade endpoint: answers 101, then echoes every byte back upper-cased.
    echo.server.on("upgrade", (req: IncomingMessage, socket: import("node:stream").Duplex) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-seen-xff: ${req.headers["x-forwarded-for"]}\r\n\r\n`,
      );
      socket.on("data", (chunk: Buffer) => socket.write(chunk.toString("utf8").toUpperCase()));
      // The tunnel closes when the client goes: the server must not wait for this socket.
      socket.on("end", () => socket.destroy());
      socket.on("error", () => socket.destroy());
    });
    const router = await startRouter();
    await router.apply([deployment([["rev-ws", 10_000, echo.port]])]);
    const { port } = new URL(router.url);
    for (let i = 0; i < 5; i++) {
      const res = await fetch(router.url, { headers: { "x-forwarded-for": "203.0.113.7" } });
      expect(await res.text()).toBe("ok");
    }
    expect(echo.seen.map((r) => r.headers["x-forwarded-for"])).toEqual(Array(5).fill("203.0.113.7, 127.0.0.1"));
    // Five sequential requests over pooled keep-alive connections: one upstream connection.
    expect(sockets.size).toBe(1);

    const reply = await new Promise<{ head: string; echoed: string }>((resolve, reject) => {
      const req = request({
        host: "127.0.0.1",
        port,
        path: "/socket",
        headers: { connection: "Upgrade", upgrade: "websocket", "x-forwarded-for": "198.51.100.1" },
      });
      req.on("upgrade", (res, socket) => {
        const head = `${res.statusCode} ${res.headers["x-seen-xff"]}`;
        socket.once("data", (chunk: Buffer) => {
          socket.destroy();
          resolve({ head, echoed: chunk.toString("utf8") });
        });
        socket.write("hello over the tunnel");
      });
      req.on("error", reject);
      req.end();
    });
    expect(reply).toEqual({ head: "101 198.51.100.1, 127.0.0.1", echoed: "HELLO OVER THE TUNNEL" });
  });

  it("reloads a changed split on SIGHUP without restarting and without failing an in-flight request", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow = await upstream((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first half;");
      void released.then(() => res.end("second half"));
    });
    const fast = await upstream(says("new"));
    const router = await startRouter();
    await router.apply([
      deployment([
        ["rev-old", 10_000, slow.port],
        ["rev-new", 0, fast.port],
      ]),
    ]);

    const inFlight = await fetch(router.url);
    expect(inFlight.headers.get("x-greentic-revision")).toBe("rev-old");
    const reader = inFlight.body!.getReader();
    const decoder = new TextDecoder();
    let body = decoder.decode((await reader.read()).value);
    expect(body).toBe("first half;");

    const loaded = await router.apply([
      deployment([
        ["rev-old", 0, slow.port],
        ["rev-new", 10_000, fast.port],
      ]),
    ]);
    expect(loaded.pid).toBe(router.pid);
    expect(await revisionsOf(router.url, 3)).toEqual(["rev-new", "rev-new", "rev-new"]);

    release();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) body += decoder.decode(chunk.value);
    expect(body).toBe("first half;second half");
    expect(await isRunning(router.pid)).toBe(true);
  });

  it("gives up connecting after the connect timeout (502) and closes an idle pooled upstream connection after the idle timeout", async () => {
    // A revision that never accepts: a stopped process whose accept queue is full, so the
    // kernel drops further SYNs and a connect hangs.
    const stuck = spawn(
      process.execPath,
      [
        "-e",
        `const s = require("node:net").createServer();
         s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
           process.stdout.write(String(s.address().port) + "\\n");
           process.kill(process.pid, "SIGSTOP");
         });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const fillers: Socket[] = [];
    onTestFinished(() => {
      for (const socket of fillers) socket.destroy();
      stuck.kill("SIGKILL");
    });
    const stuckPort = Number(
      await new Promise<string>((resolve) =>
        stuck.stdout!.once("data", (chunk: Buffer) => resolve(String(chunk).trim())),
      ),
    );
    for (let i = 0; i < 4; i++) fillers.push(connect(stuckPort, "127.0.0.1").on("error", () => {}));
    await new Promise((resolve) => setTimeout(resolve, 300));

    // A revision that would keep an idle connection open for a minute: the router closes it.
    const closedAt: number[] = [];
    const idle = await upstream(says("idle"));
    idle.server.keepAliveTimeout = 60_000;
    idle.server.on("connection", (socket: Socket) => socket.on("close", () => closedAt.push(Date.now())));

    const router = await startRouter();
    await router.apply([
      deployment([["rev-stuck", 10_000, stuckPort]], "01JSTUCK"),
      deployment([["rev-idle", 10_000, idle.port]], "01JIDLE"),
    ]);
    const idleAnswer = await fetch(router.url, { headers: { "x-greentic-deployment": "01JIDLE" } });
    expect(await idleAnswer.text()).toBe("idle");
    const answeredAt = Date.now();

    const started = Date.now();
    const timedOut = await fetch(router.url, { headers: { "x-greentic-deployment": "01JSTUCK" } });
    const took = Date.now() - started;
    expect(timedOut.status).toBe(502);
    expect(await timedOut.json()).toEqual({
      error: "revision-down",
      message: `revision rev-stuck (127.0.0.1:${stuckPort}) did not answer: connect timeout`,
      revision_id: "rev-stuck",
    });
    expect(took).toBeGreaterThanOrEqual(UPSTREAM_CONNECT_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(UPSTREAM_CONNECT_TIMEOUT_MS + 1_500);

    await poll("the router to close its idle upstream connection", async () =>
      closedAt.length > 0 ? true : undefined,
    );
    expect(closedAt).toHaveLength(1);
    expect(closedAt[0]! - answeredAt).toBeGreaterThanOrEqual(UPSTREAM_IDLE_MS - 500);
    expect(closedAt[0]! - answeredAt).toBeLessThan(UPSTREAM_IDLE_MS + 1_500);
  }, 20_000);

  it("answers 502 naming the revision when it refuses connections or is not running", async () => {
    const closed = await upstream(says("never"));
    closed.server.close();
    const router = await startRouter();

    await router.apply([deployment([["rev-down", 10_000, closed.port]])]);
    const refused = await fetch(router.url);
    expect(refused.status).toBe(502);
    expect(refused.headers.get("x-greentic-revision")).toBe("rev-down");
    expect(await refused.json()).toMatchObject({
      error: "revision-down",
      revision_id: "rev-down",
      message: expect.stringMatching(/revision rev-down .*ECONNREFUSED/),
    });

    await router.apply([deployment([["rev-stopped", 10_000, null]])]);
    const stopped = await fetch(router.url);
    expect(stopped.status).toBe(502);
    expect(await stopped.json()).toMatchObject({
      revision_id: "rev-stopped",
      message: expect.stringContaining("revision rev-stopped was chosen by the traffic split but is not running"),
    });
  });

  it("keeps the previous split when a reload finds an invalid routes document", async () => {
    const a = await upstream(says("a"));
    const router = await startRouter();
    const good = await router.apply([deployment([["rev-a", 10_000, a.port]])]);
    await writeFile(
      join(router.dir, "routes.json"),
      JSON.stringify({
        schema: "greentic.local-process.routes.v1",
        version: "bad",
        deployments: [deployment([["rev-a", 9_999, a.port]])],
      }),
    );
    process.kill(router.pid, "SIGHUP");
    const refused = await poll("the refusal in listen.json", async () => {
      const listen = await router.listen();
      return listen.error === undefined ? undefined : listen;
    });
    expect(refused).toMatchObject({
      routes_version: good.routes_version,
      error: expect.stringContaining("weights sum to 9999"),
    });
    expect(await revisionsOf(router.url, 2)).toEqual(["rev-a", "rev-a"]);
  });

  it("needs the deployment header when several deployments have a split", async () => {
    const a = await upstream(says("a"));
    const b = await upstream(says("b"));
    const router = await startRouter();
    await router.apply([
      deployment([["rev-a", 10_000, a.port]], "dep-a"),
      deployment([["rev-b", 10_000, b.port]], "dep-b"),
    ]);
    const ambiguous = await fetch(router.url);
    expect(ambiguous.status).toBe(421);
    expect(await ambiguous.json()).toMatchObject({
      error: "deployment-required",
      message: expect.stringContaining("dep-a, dep-b"),
    });
    expect(await revisionsOf(router.url, 2, { "x-greentic-deployment": "dep-b" })).toEqual(["rev-b", "rev-b"]);
    expect((await fetch(router.url, { headers: { "x-greentic-deployment": "dep-x" } })).status).toBe(404);
  });

  it("exits 0 on SIGTERM and removes its listen file; exits 1 naming the problem when the port is taken", async () => {
    const router = await startRouter();
    process.kill(router.pid, "SIGTERM");
    expect(await router.exit).toBe(0);
    expect(existsSync(join(router.dir, "listen.json"))).toBe(false);

    const taken = await upstream(says("taken"));
    const dir = await testDir("env-packs-router-");
    const child = spawn(process.execPath, [routerBin, "--state-dir", dir, "--listen", `127.0.0.1:${taken.port}`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    // The router proper says why; its keeper does not retry a router that never served.
    const lines = output
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: "error", msg: "router failed to start", code: "EADDRINUSE" });
    expect(lines[1]).toMatchObject({ level: "error", msg: "router exited before it served; not restarting" });
  });
});
