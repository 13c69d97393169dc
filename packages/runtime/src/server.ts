import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { isLoopback, writeFileAtomic } from "@greentic/io-kit";
import type { HostPort, RuntimeConfig } from "./config.js";
import { readBundleInfo, warmContentIndex, type BundleInfo, type ContentIndex } from "./content-index.js";
import { RuntimeFailure } from "./failure.js";
import { createLogger, type LogSink } from "./log.js";
import { ContentCache, sendText, serveStatic } from "./static-handler.js";

export const LISTEN_FILE = "listen.json";

/** `<state>/listen.json`, written once both listeners are bound. */
export interface ListenFile {
  pid: number;
  public: HostPort;
  admin: HostPort;
  revision_id: string | null;
}

export type RuntimeState = "warming" | "ready" | "draining" | "closed" | "failed";

/** Outcome of a drain: whether every in-flight request finished before the timeout. */
export interface DrainResult {
  completed: boolean;
  /** Requests still running when the drain gave up (0 when completed). */
  inFlight: number;
}

/** A running runtime (in this process). */
export interface RuntimeHandle {
  publicAddress: HostPort;
  adminAddress: HostPort;
  /** Resolves once the content index is built or reused; rejects if warming fails. */
  ready: Promise<void>;
  state(): RuntimeState;
  /**
   * Stops serving new public requests (they get 503 with `Connection: close`) and waits for
   * in-flight ones, at most `timeoutMs` (default: the configured drain timeout).
   */
  drain(timeoutMs?: number): Promise<DrainResult>;
  /** Closes both listeners and every connection now, and removes listen.json. */
  close(): Promise<void>;
  /**
   * Re-reads the admin CA, certificate and key (after a rotation) for new connections. On a
   * bad file it throws and keeps the current material.
   */
  reloadCertificates(): void;
}

export interface StartRuntimeOptions {
  /** Where log records go; default one JSON line each on stdout. */
  log?: LogSink;
}

/** Binds the admin (first, so a bad admin bind fails before anything is public) and public listeners, then warms. */
export async function startRuntimeServer(
  config: RuntimeConfig,
  options: StartRuntimeOptions = {},
): Promise<RuntimeHandle> {
  const log = createLogger(options.log);
  const startedAt = performance.now();
  let state: RuntimeState = "warming";
  let index: ContentIndex | null = null;
  let inFlight = 0;
  const idleWaiters = new Set<() => void>();
  const cache = new ContentCache();

  await rm(join(config.stateDir, LISTEN_FILE), { force: true });
  const bundle = await readBundleInfo(config.bundleDir);
  const tls = readTlsMaterial(config);

  const onPublicRequest = (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    inFlight++;
    res.on("close", () => {
      inFlight--;
      if (config.accessLog)
        log.info("request", {
          listener: "public",
          method: req.method,
          path: logPath(req.url),
          status: res.statusCode,
          ms: round(performance.now() - t0),
        });
      if (inFlight === 0) for (const wake of idleWaiters) wake();
    });
    if (state === "draining" || state === "closed") {
      sendText(res, 503, "Service Unavailable: draining\n", { Connection: "close" });
    } else if (index === null) {
      sendText(res, 503, "Service Unavailable: warming up\n", { "Retry-After": "1" });
    } else {
      serveStatic(req, res, index, cache);
    }
  };

  const adminContext: AdminContext = {
    config,
    bundle,
    startedAt,
    state: () => state,
    inFlight: () => inFlight,
    publicAddress: () => publicAddress,
    drain: () => void handle.drain(),
  };
  let admin: HttpsServer;
  try {
    admin = createAdminServer(tls, (req, res) => {
      const t0 = performance.now();
      res.on("close", () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate?.();
        log.info("request", {
          listener: "admin",
          method: req.method,
          path: logPath(req.url),
          status: res.statusCode,
          ms: round(performance.now() - t0),
          client: peer?.subject?.CN,
        });
      });
      handleAdmin(req, res, adminContext);
    });
  } catch (error) {
    throw new RuntimeFailure(
      "invalid-config",
      `the admin TLS material is unusable: ${(error as Error).message}`,
      "GREENTIC_ADMIN_CERT_FILE and GREENTIC_ADMIN_KEY_FILE must be a matching PEM certificate and key; GREENTIC_ADMIN_CA_FILE a PEM CA",
      {
        variable: "GREENTIC_ADMIN_KEY_FILE",
        value: config.adminKeyFile,
      },
      error,
    );
  }
  admin.on("tlsClientError", (error) => log.warn("admin tls handshake refused", { error: error.message }));

  const adminHost = await resolveAdminHost(config.adminBind.host);
  const adminAddress = await listen(admin, adminHost, config.adminBind.port, "GREENTIC_ADMIN_BIND");
  if (!isLoopback(adminAddress.host)) {
    await closeServer(admin);
    throw new RuntimeFailure(
      "invalid-config",
      `the admin endpoint bound to non-loopback ${adminAddress.host}`,
      "bind it to 127.0.0.1 or ::1",
      { variable: "GREENTIC_ADMIN_BIND" },
    );
  }
  const publicServer = createHttpServer({ keepAliveTimeout: 5000 }, onPublicRequest);
  let publicAddress: HostPort;
  try {
    publicAddress = await listen(publicServer, config.publicBind.host, config.publicBind.port, "GREENTIC_PUBLIC_BIND");
  } catch (error) {
    await closeServer(admin);
    throw error;
  }

  const listenFile: ListenFile = {
    pid: process.pid,
    public: publicAddress,
    admin: adminAddress,
    revision_id: config.revisionId,
  };
  await writeFileAtomic(join(config.stateDir, LISTEN_FILE), `${JSON.stringify(listenFile, null, 2)}\n`, {
    mode: 0o644,
  });
  log.info("listening", {
    pid: process.pid,
    public: publicAddress,
    admin: adminAddress,
    revision_id: config.revisionId,
    bundle_id: bundle.bundleId,
  });

  const ready = warmContentIndex(bundle, config.cacheDir, log).then(
    ({ index: built, reused }) => {
      index = built;
      if (state === "warming") state = "ready";
      log.info("ready", {
        files: Object.keys(built.files).length,
        index_reused: reused,
        ms: round(performance.now() - startedAt),
      });
    },
    (error: unknown) => {
      state = "failed";
      log.error("warming failed", failureFields(error));
      throw error;
    },
  );
  // Callers may never await `ready`; the failure is logged above either way.
  ready.catch(() => {});

  let drainPromise: Promise<DrainResult> | null = null;
  const handle: RuntimeHandle = {
    publicAddress,
    adminAddress,
    ready,
    state: () => state,
    drain(timeoutMs = config.drainTimeoutMs) {
      if (drainPromise) return drainPromise;
      if (state !== "closed") state = "draining";
      log.info("draining", { in_flight: inFlight, timeout_ms: timeoutMs });
      publicServer.closeIdleConnections();
      drainPromise = new Promise<DrainResult>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          idleWaiters.delete(onIdle);
          resolve({ completed: inFlight === 0, inFlight });
        };
        const onIdle = () => {
          publicServer.closeIdleConnections();
          finish();
        };
        const timer = setTimeout(finish, timeoutMs);
        idleWaiters.add(onIdle);
        if (inFlight === 0) finish();
      }).then((result) => {
        log.info("drained", { completed: result.completed, in_flight: result.inFlight });
        return result;
      });
      return drainPromise;
    },
    reloadCertificates() {
      const material = readTlsMaterial(config);
      try {
        admin.setSecureContext({ ...material, minVersion: "TLSv1.2" });
      } catch (error) {
        throw new RuntimeFailure(
          "invalid-config",
          `the admin TLS material is unusable: ${(error as Error).message}`,
          "keep a matching certificate and key in place; the previous ones stay in use",
          {
            variable: "GREENTIC_ADMIN_KEY_FILE",
            value: config.adminKeyFile,
          },
          error,
        );
      }
      log.info("admin certificates reloaded", {});
    },
    async close() {
      if (state === "closed") return;
      state = "closed";
      await Promise.all([closeServer(publicServer), closeServer(admin)]);
      await rm(join(config.stateDir, LISTEN_FILE), { force: true });
      log.info("closed", {});
    },
  };
  return handle;
}

function createAdminServer(
  tls: { ca: Buffer; cert: Buffer; key: Buffer },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): HttpsServer {
  return createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" }, handler);
}

function readTlsMaterial(config: RuntimeConfig): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (variable: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new RuntimeFailure(
        "invalid-config",
        `cannot read ${variable}=${file}: ${(error as Error).message}`,
        "check the path and permissions",
        { variable, value: file },
      );
    }
  };
  return {
    ca: read("GREENTIC_ADMIN_CA_FILE", config.adminCaFile),
    cert: read("GREENTIC_ADMIN_CERT_FILE", config.adminCertFile),
    key: read("GREENTIC_ADMIN_KEY_FILE", config.adminKeyFile),
  };
}

/** `localhost` is resolved here and every answer must be loopback; IPs pass through (checked in config). */
async function resolveAdminHost(host: string): Promise<string> {
  if (host.toLowerCase() !== "localhost") return host;
  const answers = await lookup(host, { all: true }).catch(() => []);
  const bad = answers.find((a) => !isLoopback(a.address));
  if (answers.length === 0 || bad) {
    throw new RuntimeFailure(
      "invalid-config",
      `GREENTIC_ADMIN_BIND host localhost resolves to ${bad ? `non-loopback ${bad.address}` : "nothing"}`,
      "fix /etc/hosts or use 127.0.0.1:8433",
      { variable: "GREENTIC_ADMIN_BIND", value: host },
    );
  }
  return (answers.find((a) => a.family === 4) ?? answers[0]!).address;
}

function listen(server: Server | HttpsServer, host: string, port: number, variable: string): Promise<HostPort> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new RuntimeFailure(
          "bind",
          `cannot listen on ${variable}=${host}:${port}: ${error.code ?? error.message}`,
          error.code === "EADDRINUSE" ? "another process holds the port; pick another or stop it" : "check the address",
          {
            variable,
            value: `${host}:${port}`,
          },
          error,
        ),
      );
    };
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", onError);
      const address = server.address() as AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}

function closeServer(server: Server | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

interface AdminContext {
  config: RuntimeConfig;
  bundle: BundleInfo;
  startedAt: number;
  state(): RuntimeState;
  inFlight(): number;
  publicAddress(): HostPort;
  drain(): void;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
    ...headers,
  });
  res.end(text);
}

function handleAdmin(req: IncomingMessage, res: ServerResponse, ctx: AdminContext): void {
  // The TLS layer already refused unauthenticated peers; this is a second lock on the door.
  if (!(req.socket as TLSSocket).authorized) return sendJson(res, 401, { error: "client certificate required" });
  const path = (req.url ?? "/").split("?")[0];
  const state = ctx.state();
  const route = (methods: readonly string[], run: () => void) => {
    if (methods.includes(req.method ?? "")) run();
    else sendJson(res, 405, { error: `method ${req.method} not allowed` }, { Allow: methods.join(", ") });
  };
  switch (path) {
    case ctx.config.livenessPath:
      return route(["GET", "HEAD"], () => sendJson(res, 200, { status: "alive" }));
    case ctx.config.readinessPath:
      return route(["GET", "HEAD"], () =>
        state === "ready" ? sendJson(res, 200, { ready: true, state }) : sendJson(res, 503, { ready: false, state }),
      );
    case "/admin/v1/status":
      return route(["GET"], () =>
        sendJson(res, 200, {
          bundle_id: ctx.bundle.bundleId,
          version: ctx.bundle.version,
          digest: ctx.bundle.digest,
          revision_id: ctx.config.revisionId,
          uptime_seconds: round((performance.now() - ctx.startedAt) / 1000),
          ready: state === "ready",
          draining: state === "draining" || state === "closed",
          state,
          in_flight: ctx.inFlight(),
          pid: process.pid,
          public: ctx.publicAddress(),
        }),
      );
    case "/admin/v1/drain":
      return route(["POST"], () => {
        ctx.drain();
        sendJson(res, 202, { draining: true, in_flight: ctx.inFlight() });
      });
    default:
      return sendJson(res, 404, { error: `no admin route ${path}` });
  }
}

function logPath(url: string | undefined): string {
  const path = (url ?? "").split("?")[0] ?? "";
  return path.length > 256 ? `${path.slice(0, 256)}...` : path;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Log fields for any error, richest for RuntimeFailure. */
export function failureFields(error: unknown): Record<string, unknown> {
  if (error instanceof RuntimeFailure)
    return { error: error.message, code: error.code, hint: error.hint, ...error.fields };
  return { error: error instanceof Error ? error.message : String(error) };
}
