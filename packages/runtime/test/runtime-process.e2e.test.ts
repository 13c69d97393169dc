import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { build } from "tsup";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  adminRequest,
  createAdminCertificates,
  readListenFile,
  rotateAdminCertificates,
  waitForReady,
  type AdminCertificates,
  type ListenFile,
} from "../src/index.js";
import { httpGet, makeLayout, tempDir, until, type Layout } from "./helpers.js";

// The bin is built here into a private directory (not the package's dist/, which other test
// files or a parallel `pnpm build` may be using), then copied alone to prove it is self-contained.
let work: { dir: string; cleanup: () => void };
let bin: string;
let certs: AdminCertificates;

beforeAll(async () => {
  work = tempDir("greentic-runtime-e2e-");
  await build({
    entry: { bin: new URL("../src/bin.ts", import.meta.url).pathname },
    outDir: join(work.dir, "build"),
    format: ["esm"],
    platform: "node",
    target: "node22",
    splitting: false,
    config: false,
    silent: true,
  });
  bin = join(work.dir, "greentic-runtime.js");
  copyFileSync(join(work.dir, "build", "bin.js"), bin);
  certs = await createAdminCertificates(join(work.dir, "certs"));
}, 120_000);

afterAll(() => work.cleanup());

const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const fn of cleanups.splice(0)) fn();
});

interface Running {
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(env: Record<string, string>): Running {
  const child = spawn(process.execPath, [bin], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, exited };
}

async function layout(files: Record<string, string | Buffer> = { "index.html": "<h1>hi</h1>" }): Promise<Layout> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return makeLayout(t.dir, files, certs);
}

async function startProcess(l: Layout, extra: Record<string, string> = {}): Promise<Running & { listen: ListenFile }> {
  const running = run({ ...l.env, ...extra });
  const listen = await until(async () => (await readListenFile(l.config.stateDir)) ?? undefined, 30_000, "listen.json");
  await waitForReady({ address: listen.admin, certDir: l.certs.dir, timeoutMs: 30_000 });
  return { ...running, listen };
}

const jsonLines = (text: string) =>
  text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("the built greentic-runtime executable", () => {
  it("is one file that imports Node built-ins only", () => {
    const source = readFileSync(bin, "utf8");
    expect(source.startsWith("#!/usr/bin/env node\n")).toBe(true);
    const specifiers = [
      ...source.matchAll(/(?:^|\n)\s*import\s[^;]*?from\s+"([^"]+)"/g),
      ...source.matchAll(/import\(\s*"([^"]+)"\s*\)/g),
    ].map((m) => m[1]!);
    expect(specifiers.length).toBeGreaterThan(0);
    const builtins = new Set(builtinModules);
    expect(specifiers.filter((s) => !builtins.has(s.replace(/^node:/, "")))).toEqual([]);
  });

  it("starts, writes listen.json, logs JSON lines and serves the bundle", async () => {
    const l = await layout();
    const { listen, stdout, child } = await startProcess(l);
    expect(listen.pid).toBe(child.pid);
    const res = await httpGet(listen.public.port, "/");
    expect([res.status, res.body.toString()]).toEqual([200, "<h1>hi</h1>"]);
    await until(() => (stdout().includes('"path":"/"') ? true : undefined), 10_000, "request log line");
    const lines = jsonLines(stdout());
    expect(lines[0]).toMatchObject({
      level: "info",
      msg: "listening",
      pid: child.pid,
      public: listen.public,
      admin: listen.admin,
    });
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: "request", method: "GET", path: "/", status: 200, ms: expect.any(Number) }),
    );
    for (const line of lines) expect(Object.keys(line).slice(0, 3)).toEqual(["ts", "level", "msg"]);
  });

  describe("refuses to start, exit 2 with one JSON line naming the variable", () => {
    it.each([
      ["GREENTIC_ADMIN_BIND", "0.0.0.0:8433", /wildcard address 0\.0\.0\.0/],
      ["GREENTIC_ADMIN_BIND", "[::]:8433", /wildcard address ::/],
      ["GREENTIC_ADMIN_BIND", "192.0.2.10:8433", /loopback address, not 192\.0\.2\.10/],
    ])("%s=%s", async (variable, value, message) => {
      const l = await layout();
      const running = run({ ...l.env, [variable]: value });
      expect(await running.exited).toEqual({ code: 2, signal: null });
      const lines = jsonLines(running.stdout());
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: "error",
        variable,
        value,
        msg: expect.stringMatching(message),
        hint: expect.stringContaining("127.0.0.1:8433"),
      });
      expect(existsSync(join(l.config.stateDir, "listen.json"))).toBe(false);
    });

    it("a writable bundle dir", async () => {
      const l = await layout();
      chmodSync(join(l.bundleDir, "index.html"), 0o644);
      const running = run(l.env);
      expect(await running.exited).toEqual({ code: 2, signal: null });
      expect(jsonLines(running.stdout())[0]).toMatchObject({
        variable: "GREENTIC_BUNDLE_DIR",
        value: l.bundleDir,
        msg: expect.stringContaining("not read-only"),
        hint: expect.stringContaining("read-only"),
      });
    });

    it("a missing writable dir", async () => {
      const l = await layout();
      rmSync(l.config.tempDir, { recursive: true });
      const running = run(l.env);
      expect(await running.exited).toEqual({ code: 2, signal: null });
      expect(jsonLines(running.stdout())[0]).toMatchObject({
        variable: "GREENTIC_TEMP_DIR",
        value: l.config.tempDir,
        hint: `create it: mkdir -p ${l.config.tempDir}`,
      });
    });

    it("a server key that does not match its certificate", async () => {
      const l = await layout();
      const running = run({ ...l.env, GREENTIC_ADMIN_KEY_FILE: certs.files.clientKey });
      expect(await running.exited).toEqual({ code: 2, signal: null });
      expect(jsonLines(running.stdout())[0]).toMatchObject({
        level: "error",
        variable: "GREENTIC_ADMIN_KEY_FILE",
        msg: expect.stringContaining("admin TLS material is unusable"),
      });
    });
  });

  it("exits 1 when warming finds the bundle altered", async () => {
    const manifest = {
      bundle_id: "acme",
      version: "1.0.0",
      content_digest: `sha256:${"0".repeat(64)}`,
      entries: [{ path: "index.html", type: "file", sha256: "0".repeat(64) }],
    };
    const l = await layout({ "index.html": "x", "bundle-manifest.json": JSON.stringify(manifest) });
    const running = run(l.env);
    expect(await running.exited).toEqual({ code: 1, signal: null });
    expect(jsonLines(running.stdout())).toContainEqual(
      expect.objectContaining({ level: "error", msg: "warming failed", code: "integrity", path: "index.html" }),
    );
  });

  it("on SIGTERM finishes the in-flight request, refuses new ones with 503 and exits 0 within the bound", async () => {
    const big = randomBytes(48 * 1024 * 1024);
    const l = await layout({ "index.html": "hi", "big.bin": big });
    const { listen, child, exited, stdout } = await startProcess(l, { GREENTIC_DRAIN_TIMEOUT_SECONDS: "20" });
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      get({ host: "127.0.0.1", port: listen.public.port, path: "/big.bin", agent: false }, resolve).on("error", reject),
    );
    response.pause();
    await until(async () => {
      const status = await adminRequest({ address: listen.admin, path: "/admin/v1/status", certDir: certs.dir });
      return (status.json as { in_flight: number }).in_flight === 1 ? true : undefined;
    });

    const signalledAt = Date.now();
    child.kill("SIGTERM");
    await until(() => (stdout().includes('"msg":"draining"') ? true : undefined), 10_000, "draining log line");
    const refused = await httpGet(listen.public.port, "/index.html");
    expect([refused.status, refused.headers.connection]).toEqual([503, "close"]);
    expect(child.exitCode).toBeNull();

    const chunks: Buffer[] = [];
    response.on("data", (c: Buffer) => chunks.push(c));
    response.resume();
    await new Promise((r) => response.on("end", r));
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(20_000);
    expect(jsonLines(stdout())).toContainEqual(expect.objectContaining({ msg: "drained", completed: true }));
    expect(existsSync(join(l.config.stateDir, "listen.json"))).toBe(false);
  });

  it("on SIGTERM with a stuck client exits 0 once the drain timeout passes", async () => {
    const l = await layout({ "index.html": "hi", "big.bin": randomBytes(48 * 1024 * 1024) });
    const { listen, child, exited, stdout } = await startProcess(l, { GREENTIC_DRAIN_TIMEOUT_SECONDS: "1" });
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      get({ host: "127.0.0.1", port: listen.public.port, path: "/big.bin", agent: false }, resolve).on("error", reject),
    );
    response.pause();
    response.on("error", () => {});
    const signalledAt = Date.now();
    child.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
    const elapsed = Date.now() - signalledAt;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(10_000);
    expect(jsonLines(stdout())).toContainEqual(
      expect.objectContaining({ msg: "drained", completed: false, in_flight: 1 }),
    );
    response.destroy();
  });

  it("exits 0 on SIGINT when idle", async () => {
    const l = await layout();
    const { child, exited } = await startProcess(l);
    child.kill("SIGINT");
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  it("on SIGHUP reloads rotated admin certificates and keeps serving", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const l = await makeLayout(t.dir, { "index.html": "hi" }); // its own certificate dir, rotated below
    const { listen, child, stdout } = await startProcess(l);
    const oldTls = {
      ca: readFileSync(l.certs.files.caCert),
      cert: readFileSync(l.certs.files.clientCert),
      key: readFileSync(l.certs.files.clientKey),
    };
    // A CA expiring within the window forces a whole new layout.
    const rotated = await rotateAdminCertificates(l.certs.dir, { withinDays: 4000 });
    expect(rotated.rotated.ca).toBe(true);
    child.kill("SIGHUP");
    await until(() => (stdout().includes("admin certificates reloaded") ? true : undefined), 10_000, "reload log line");
    expect((await adminRequest({ address: listen.admin, path: "/health", certDir: l.certs.dir })).status).toBe(200);
    await expect(adminRequest({ address: listen.admin, path: "/health", tls: oldTls })).rejects.toMatchObject({
      kind: "unauthorized",
    });
    expect((await httpGet(listen.public.port, "/")).status).toBe(200);
    expect(child.exitCode).toBeNull();
  });

  it("openssl s_client gets through with the operator's certificate and is refused without one", async () => {
    const l = await layout();
    const { listen } = await startProcess(l);
    const sClient = (extra: string[]) =>
      spawnSync(
        "openssl",
        [
          "s_client",
          "-connect",
          `127.0.0.1:${listen.admin.port}`,
          "-CAfile",
          certs.files.caCert,
          "-verify_return_error",
          "-quiet",
          ...extra,
        ],
        {
          input: "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
          encoding: "utf8",
          timeout: 20_000,
        },
      );
    const ok = sClient(["-cert", certs.files.clientCert, "-key", certs.files.clientKey]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("HTTP/1.1 200 OK");
    expect(ok.stdout).toContain('{"status":"alive"}');
    const refused = sClient([]);
    expect(refused.status).not.toBe(0);
    expect(refused.stdout).not.toContain("HTTP/1.1");
    expect(refused.stderr).toMatch(/certificate required/);
  });
});
