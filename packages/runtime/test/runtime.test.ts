import { createHash, randomBytes } from "node:crypto";
import { readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { get, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  adminRequest,
  createAdminCertificates,
  issueAdminClientCertificate,
  readListenFile,
  startRuntime,
  waitForReady,
  type AdminCertificates,
  type LogFields,
} from "../src/index.js";
import { httpGet, makeLayout, rawRequest, removeTree, tempDir, until, writeBundle, type Layout } from "./helpers.js";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
const SITE = {
  "index.html": "<!doctype html><h1>home</h1>",
  "app.js": "console.log(1)",
  "style.css": "body{}",
  "data.json": '{"a":1}',
  "logo.png": PNG,
  LICENSE: "Apache-2.0",
  "docs/index.html": "<h1>docs</h1>",
  "docs/guide.txt": "guide",
};

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

let shared: { dir: string; certs: AdminCertificates };
beforeAll(async () => {
  const { dir, cleanup } = tempDir("greentic-runtime-certs-");
  shared = { dir, certs: await createAdminCertificates(join(dir, "certs")) };
  return cleanup;
});

async function start(files: Record<string, string | Buffer> = SITE, tweak: (layout: Layout) => void = () => {}) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const layout = await makeLayout(dir, files, shared.certs);
  tweak(layout);
  const logs: LogFields[] = [];
  const handle = await startRuntime(layout.config, { log: (r) => logs.push(r) });
  cleanups.push(() => handle.close());
  await handle.ready;
  return { layout, handle, logs, port: handle.publicAddress.port };
}

const certDir = () => shared.certs.dir;

describe("public listener", () => {
  it("serves files with their content types, lengths and sha256 ETags", async () => {
    const { port } = await start();
    const cases: [string, string, string | Buffer][] = [
      ["/", "text/html; charset=utf-8", SITE["index.html"]],
      ["/app.js", "text/javascript; charset=utf-8", SITE["app.js"]],
      ["/style.css", "text/css; charset=utf-8", SITE["style.css"]],
      ["/data.json", "application/json; charset=utf-8", SITE["data.json"]],
      ["/logo.png", "image/png", PNG],
      ["/LICENSE", "application/octet-stream", SITE.LICENSE],
      ["/docs/", "text/html; charset=utf-8", SITE["docs/index.html"]],
    ];
    for (const [path, type, content] of cases) {
      const res = await httpGet(port, path);
      expect([path, res.status, res.headers["content-type"]]).toEqual([path, 200, type]);
      expect(res.body.equals(Buffer.from(content))).toBe(true);
      expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(content)));
      expect(res.headers.etag).toBe(`"${createHash("sha256").update(content).digest("hex")}"`);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
    }
  });

  it("answers If-None-Match with 304, HEAD without a body, other methods with 405", async () => {
    const { port } = await start();
    const first = await httpGet(port, "/style.css");
    const etag = first.headers.etag!;
    const revalidated = await httpGet(port, "/style.css", { headers: { "If-None-Match": `W/${etag}` } });
    expect([revalidated.status, revalidated.body.length, revalidated.headers.etag]).toEqual([304, 0, etag]);
    const again = await httpGet(port, "/style.css", { headers: { "If-None-Match": '"other"' } });
    expect([again.status, again.body.toString()]).toEqual([200, "body{}"]); // from the in-memory cache now
    const head = await httpGet(port, "/style.css", { method: "HEAD" });
    expect([head.status, head.body.length, head.headers["content-length"]]).toEqual([200, 0, "6"]);
    const post = await httpGet(port, "/style.css", { method: "POST" });
    expect([post.status, post.headers.allow]).toEqual([405, "GET, HEAD"]);
  });

  it("gives 404 for unknown paths and 301 for a directory without its slash", async () => {
    const { port } = await start();
    expect((await httpGet(port, "/missing.html")).status).toBe(404);
    expect((await httpGet(port, "/docs/guide.txt/")).status).toBe(404);
    const redirect = await httpGet(port, "/docs?x=1");
    expect([redirect.status, redirect.headers.location]).toEqual([301, "/docs/?x=1"]);
  });

  it("refuses traversal, encoded traversal and NUL bytes with 400, as sent on the wire", async () => {
    const { port } = await start();
    for (const target of [
      "/../../../etc/passwd",
      "/docs/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/docs/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      "/index.html%00.png",
      "/%c0%ae%c0%ae/",
    ]) {
      expect([target, await rawRequest(port, target)]).toEqual([target, 400]);
    }
  });

  it("does not serve bundle-manifest.json, nor symlinks that leave the bundle; serves symlinks inside it", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    writeFileSync(join(dir, "secret.txt"), "outside");
    const { port, logs } = await start({ ...SITE, "bundle-manifest.json": "{}" }, (l) => {
      // Root may still add entries to the a-w bundle; symlinks carry no mode of their own.
      symlinkSync(join(dir, "secret.txt"), join(l.bundleDir, "escape.txt"));
      symlinkSync("../..", join(l.bundleDir, "docs", "up"));
      symlinkSync("style.css", join(l.bundleDir, "alias.css"));
    });
    expect((await httpGet(port, "/bundle-manifest.json")).status).toBe(404);
    expect((await httpGet(port, "/escape.txt")).status).toBe(404);
    expect((await httpGet(port, "/docs/up/secret.txt")).status).toBe(404);
    const alias = await httpGet(port, "/alias.css");
    expect([alias.status, alias.body.toString(), alias.headers["content-type"]]).toEqual([
      200,
      "body{}",
      "text/css; charset=utf-8",
    ]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: "warn",
        msg: "symlink not served",
        path: "escape.txt",
        reason: "target leaves the bundle",
      }),
    );
  });

  it("logs one JSON record per request with method, path, status and ms", async () => {
    const { port, logs } = await start();
    await httpGet(port, "/missing?token=abc");
    const record = await until(() => logs.find((r) => r.msg === "request" && r.path === "/missing"));
    expect(record).toMatchObject({
      level: "info",
      listener: "public",
      method: "GET",
      status: 404,
      ts: expect.any(String),
      ms: expect.any(Number),
    });
  });

  it("with the access log off, writes no public request lines but still the admin API's and its own", async () => {
    const { port, logs, handle } = await start(SITE, (l) => {
      l.config.accessLog = false;
    });
    expect((await httpGet(port, "/missing")).status).toBe(404);
    expect((await httpGet(port, "/")).status).toBe(200);
    expect((await adminRequest({ address: handle.adminAddress, path: "/ready", certDir: certDir() })).status).toBe(200);
    const admin = await until(() => logs.find((r) => r.msg === "request" && r.listener === "admin"));
    expect(admin).toMatchObject({ method: "GET", path: "/ready", status: 200 });
    expect(logs.filter((r) => r.msg === "request").map((r) => r.listener)).toEqual(["admin"]);
    expect(logs.map((r) => r.msg)).toContain("ready");
  });
});

describe("content index and listen.json", () => {
  it("writes listen.json with the bound addresses and the content index into the cache dir", async () => {
    const { layout, handle } = await start();
    const listen = await readListenFile(layout.config.stateDir);
    expect(listen).toEqual({
      pid: process.pid,
      public: handle.publicAddress,
      admin: handle.adminAddress,
      revision_id: "01JTESTREVISION0000000000",
    });
    expect(statSync(join(layout.config.stateDir, "listen.json")).isFile()).toBe(true);
    const index = JSON.parse(readFileSync(join(layout.config.cacheDir, "content-index.json"), "utf8"));
    expect(index.files["docs/guide.txt"]).toEqual({
      size: 5,
      sha256: createHash("sha256").update("guide").digest("hex"),
      content_type: "text/plain; charset=utf-8",
    });
    await handle.close();
    expect(await readListenFile(layout.config.stateDir)).toBeNull();
  });

  it("reuses the index for the same manifest and rebuilds it when the manifest changes", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const manifest = (version: string) =>
      JSON.stringify({
        schema: "greentic.bundle-manifest.v1",
        bundle_id: "acme",
        version,
        content_digest: `sha256:${"0".repeat(64)}`,
      });
    const layout = await makeLayout(dir, { ...SITE, "bundle-manifest.json": manifest("1.0.0") }, shared.certs);
    const run = async () => {
      const logs: LogFields[] = [];
      const handle = await startRuntime(layout.config, { log: (r) => logs.push(r) });
      await handle.ready;
      await handle.close();
      return logs.find((r) => r.msg === "ready")!;
    };
    expect((await run()).index_reused).toBe(false);
    expect((await run()).index_reused).toBe(true);
    removeTree(layout.bundleDir);
    writeBundle(layout.bundleDir, { ...SITE, "bundle-manifest.json": manifest("1.0.1") });
    expect((await run()).index_reused).toBe(false);
  });

  it("refuses to become ready when a file does not match the manifest's entries", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const manifest = {
      schema: "greentic.bundle-manifest.v1",
      bundle_id: "acme",
      version: "1.0.0",
      content_digest: `sha256:${"0".repeat(64)}`,
      entries: [{ path: "index.html", type: "file", size: 3, mode: "0444", sha256: "0".repeat(64) }],
    };
    const layout = await makeLayout(
      dir,
      { "index.html": "abc", "bundle-manifest.json": JSON.stringify(manifest) },
      shared.certs,
    );
    const handle = await startRuntime(layout.config, { log: () => {} });
    cleanups.push(() => handle.close());
    const error = await handle.ready.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GreenticError);
    expect(error).toMatchObject({
      kind: "integrity",
      message: "bundle file index.html does not match bundle-manifest.json",
    });
    const ready = await adminRequest({ address: handle.adminAddress, path: "/ready", certDir: certDir() });
    expect([ready.status, ready.json]).toEqual([503, { ready: false, state: "failed" }]);
  });

  it("fails to start with a GreenticError when the public port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const layout = await makeLayout(dir, SITE, shared.certs);
    const error = await startRuntime(
      { ...layout.config, publicBind: { host: "127.0.0.1", port } },
      { log: () => {} },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      kind: "io",
      path: "GREENTIC_PUBLIC_BIND",
      message: `cannot listen on GREENTIC_PUBLIC_BIND=127.0.0.1:${port}: EADDRINUSE`,
    });
  });
});

/** An HTTPS GET that presents no client certificate. Resolves with the status, or rejects. */
function getWithoutClientCert(address: { host: string; port: number }, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: address.host, port: address.port, path: "/health", ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("admin endpoint (mTLS)", () => {
  it("accepts the operator's certificate: health, ready, status", async () => {
    const { handle } = await start();
    const health = await adminRequest({ address: handle.adminAddress, path: "/health", certDir: certDir() });
    expect([health.status, health.json]).toEqual([200, { status: "alive" }]);
    const ready = await waitForReady({
      address: `127.0.0.1:${handle.adminAddress.port}`,
      certDir: certDir(),
      timeoutMs: 10_000,
    });
    expect(ready.json).toEqual({ ready: true, state: "ready" });
    const status = await adminRequest({ address: handle.adminAddress, path: "/admin/v1/status", certDir: certDir() });
    expect(status.json).toMatchObject({
      revision_id: "01JTESTREVISION0000000000",
      ready: true,
      draining: false,
      public: handle.publicAddress,
      uptime_seconds: expect.any(Number),
    });
  });

  it("reports the bundle manifest's id, version and digest in status", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const { handle } = await start({
      ...SITE,
      "bundle-manifest.json": JSON.stringify({ bundle_id: "acme-site", version: "2.1.0", content_digest: digest }),
    });
    const status = await adminRequest({ address: handle.adminAddress, path: "/admin/v1/status", certDir: certDir() });
    expect(status.json).toMatchObject({ bundle_id: "acme-site", version: "2.1.0", digest });
  });

  it("refuses a connection without a client certificate", async () => {
    const { handle } = await start();
    await expect(getWithoutClientCert(handle.adminAddress, readFileSync(shared.certs.files.caCert))).rejects.toThrow(
      /certificate required|ECONNRESET|socket hang up|alert/i,
    );
  });

  it("refuses a client certificate from another CA", async () => {
    const { handle } = await start();
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const other = await createAdminCertificates(dir);
    const tls = {
      ca: readFileSync(shared.certs.files.caCert),
      cert: readFileSync(other.files.clientCert),
      key: readFileSync(other.files.clientKey),
    };
    const error = await adminRequest({ address: handle.adminAddress, path: "/health", tls }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "unauthorized" });
  });

  it("refuses an expired client certificate from the right CA", async () => {
    const { handle } = await start();
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    // Written to its own dir so that the shared layout keeps only the operator's certificate.
    const expired = await issueAdminClientCertificate(shared.certs.dir, {
      name: "expired",
      outDir: join(dir, "expired"),
      now: new Date(Date.now() - 10 * 86_400_000),
      validityDays: 1,
    });
    expect(new Date(expired.notAfter).getTime()).toBeLessThan(Date.now());
    const tls = {
      ca: readFileSync(shared.certs.files.caCert),
      cert: readFileSync(expired.cert),
      key: readFileSync(expired.key),
    };
    const error = await adminRequest({ address: handle.adminAddress, path: "/health", tls }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "unauthorized" });
    // The same CA's valid operator certificate still works.
    expect((await adminRequest({ address: handle.adminAddress, path: "/health", certDir: certDir() })).status).toBe(
      200,
    );
  });

  it("refuses a certificate without the clientAuth usage (the server's own)", async () => {
    const { handle } = await start();
    const tls = {
      ca: readFileSync(shared.certs.files.caCert),
      cert: readFileSync(shared.certs.files.serverCert),
      key: readFileSync(shared.certs.files.serverKey),
    };
    const error = await adminRequest({ address: handle.adminAddress, path: "/health", tls }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "unauthorized" });
  });

  it("the client refuses a server whose certificate another CA issued", async () => {
    const { handle } = await start();
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const other = await createAdminCertificates(dir);
    const tls = {
      ca: readFileSync(other.files.caCert),
      cert: readFileSync(shared.certs.files.clientCert),
      key: readFileSync(shared.certs.files.clientKey),
    };
    const error = await adminRequest({ address: handle.adminAddress, path: "/health", tls }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "unauthorized", message: expect.stringMatching(/certificate/i) });
  });

  it("answers unknown routes with 404, wrong methods with 405, and honours custom health paths", async () => {
    const { handle } = await start(SITE, (l) => {
      l.config.readinessPath = "/healthz/ready";
      l.config.livenessPath = "/healthz/live";
    });
    const call = (path: string, method = "GET") =>
      adminRequest({ address: handle.adminAddress, path, method, certDir: certDir() }).then((r) => r.status);
    expect(await call("/healthz/ready")).toBe(200);
    expect(await call("/healthz/live")).toBe(200);
    expect(await call("/ready")).toBe(404);
    expect(await call("/admin/v1/drain")).toBe(405);
    expect(await call("/admin/v1/status", "POST")).toBe(405);
  });

  it("binds localhost to a loopback address", async () => {
    const { handle } = await start(SITE, (l) => {
      l.config.adminBind = { host: "localhost", port: 0 };
    });
    expect(["127.0.0.1", "::1"]).toContain(handle.adminAddress.host);
    expect((await adminRequest({ address: handle.adminAddress, path: "/health", certDir: certDir() })).status).toBe(
      200,
    );
  });

  it("waitForReady gives up with the last error when nothing listens", async () => {
    const error = await waitForReady({
      address: "127.0.0.1:1",
      certDir: certDir(),
      timeoutMs: 300,
      intervalMs: 50,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      kind: "precondition-failed",
      details: { last: expect.stringContaining("ECONNREFUSED") },
    });
  });
});

describe("drain", () => {
  it("lets an in-flight request finish while new ones get 503 with Connection: close", async () => {
    const big = randomBytes(48 * 1024 * 1024);
    const { handle, port } = await start({ ...SITE, "big.bin": big });
    // A slow reader keeps the big response in flight: the server blocks on backpressure.
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      get({ host: "127.0.0.1", port, path: "/big.bin", agent: false }, resolve).on("error", reject),
    );
    response.pause();
    const status = () =>
      adminRequest({ address: handle.adminAddress, path: "/admin/v1/status", certDir: certDir() }).then(
        (r) => r.json as { in_flight: number; draining: boolean },
      );
    await until(async () => ((await status()).in_flight === 1 ? true : undefined), 20_000, "one request in flight");

    const drain = await adminRequest({
      address: handle.adminAddress,
      path: "/admin/v1/drain",
      method: "POST",
      certDir: certDir(),
    });
    expect([drain.status, drain.json]).toEqual([202, { draining: true, in_flight: 1 }]);
    const refused = await httpGet(port, "/index.html");
    expect([refused.status, refused.headers.connection]).toEqual([503, "close"]);
    expect((await adminRequest({ address: handle.adminAddress, path: "/ready", certDir: certDir() })).status).toBe(503);
    expect(await status()).toMatchObject({ draining: true, in_flight: 1 });

    const chunks: Buffer[] = [];
    response.on("data", (c: Buffer) => chunks.push(c));
    response.resume();
    await new Promise((r) => response.on("end", r));
    expect(response.statusCode).toBe(200);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
    expect(await handle.drain()).toEqual({ completed: true, inFlight: 0 });
  });

  it("gives up after the drain timeout and reports what is still running", async () => {
    const { handle, port } = await start({ ...SITE, "big.bin": randomBytes(48 * 1024 * 1024) });
    const req = httpRequest({ host: "127.0.0.1", port, path: "/big.bin", agent: false });
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      req.on("response", resolve).on("error", reject).end(),
    );
    response.pause();
    cleanups.push(() => void req.destroy());
    expect(await handle.drain(200)).toEqual({ completed: false, inFlight: 1 });
  });
});
