import { readFile, rm } from "node:fs/promises";
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { writeFileAtomic } from "@greentic/io-kit";
import { parseListenAddress } from "./listen-address.js";

export { parseListenAddress };

// The router runs as its own process (see local-router-bin.ts): this module imports Node
// built-ins and the I/O kit only, so the bundled entry stays small and starts fast.

/** `routes.json` in the router's state dir: the applied splits with each revision's public port. */
export interface LocalRoutesDocument {
  schema: "greentic.local-process.routes.v1";
  env_id: string;
  /** Random token; the router echoes it in `listen.json` once this document is loaded. */
  version: string;
  deployments: LocalRouteDeployment[];
}

export interface LocalRouteDeployment {
  deployment_id: string;
  bundle_id: string;
  entries: LocalRouteEntry[];
}

export interface LocalRouteEntry {
  revision_id: string;
  weight_bps: number;
  /** Loopback port of the revision's public listener; `null` when it is not running. */
  port: number | null;
}

/** `listen.json`, written by the router after it binds and after every (re)load. */
export interface LocalRouterListenFile {
  pid: number;
  host: string;
  port: number;
  url: string;
  /** `version` of the routes document in use (`null`: none applied yet). */
  routes_version: string | null;
  loaded_at: string;
  /** Why the last reload was refused (the previous routes stay in use). */
  error?: string;
}

/** Header naming the revision that answered (or was chosen and failed). */
export const REVISION_HEADER = "x-greentic-revision";
/** Request header selecting a deployment when several have a split. */
export const DEPLOYMENT_HEADER = "x-greentic-deployment";

/**
 * Smooth weighted round-robin (as in nginx): every pick adds each weight to its counter,
 * takes the largest counter (first on ties) and subtracts the total from it. Deterministic,
 * and over any `total / gcd(weights)` consecutive picks each entry is chosen exactly in
 * proportion to its weight (90/10 gives 9:1 over 10 picks), interleaved rather than bunched.
 */
export class WeightedPicker<T extends { weight_bps: number }> {
  readonly entries: readonly T[];
  readonly #current: number[];
  readonly #total: number;

  constructor(entries: readonly T[]) {
    this.entries = entries;
    this.#current = entries.map(() => 0);
    this.#total = entries.reduce((sum, entry) => sum + entry.weight_bps, 0);
  }

  /** The next entry, or `undefined` when every weight is 0. */
  next(): T | undefined {
    if (this.#total <= 0) return undefined;
    let best = -1;
    this.entries.forEach((entry, index) => {
      if (entry.weight_bps <= 0) return;
      this.#current[index]! += entry.weight_bps;
      if (best === -1 || this.#current[index]! > this.#current[best]!) best = index;
    });
    this.#current[best]! -= this.#total;
    return this.entries[best];
  }
}

/** Parses and checks a routes document; throws an Error naming the fault. */
export function parseRoutes(text: string): LocalRoutesDocument {
  const doc = JSON.parse(text) as LocalRoutesDocument;
  if (doc?.schema !== "greentic.local-process.routes.v1")
    throw new Error(`unknown routes schema ${JSON.stringify(doc?.schema)}`);
  if (typeof doc.version !== "string" || !Array.isArray(doc.deployments))
    throw new Error("routes document lacks version or deployments");
  for (const deployment of doc.deployments) {
    if (typeof deployment.deployment_id !== "string" || !Array.isArray(deployment.entries))
      throw new Error("a deployment lacks deployment_id or entries");
    let sum = 0;
    for (const entry of deployment.entries) {
      if (typeof entry.revision_id !== "string" || !Number.isInteger(entry.weight_bps) || entry.weight_bps < 0) {
        throw new Error(`deployment ${deployment.deployment_id}: bad entry ${JSON.stringify(entry)}`);
      }
      if (entry.port !== null && !(Number.isInteger(entry.port) && entry.port > 0 && entry.port < 65_536)) {
        throw new Error(
          `deployment ${deployment.deployment_id}: revision ${entry.revision_id} has bad port ${JSON.stringify(entry.port)}`,
        );
      }
      sum += entry.weight_bps;
    }
    if (sum !== 10_000) throw new Error(`deployment ${deployment.deployment_id}: weights sum to ${sum}, not 10000`);
  }
  return doc;
}

/** Options of {@link startLocalRouter}. */
export interface LocalRouterOptions {
  /** Directory holding `routes.json` (read) and `listen.json` (written). */
  stateDir: string;
  /** Loopback host to listen on, e.g. `127.0.0.1` or `::1`. */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** With `port` 0: try this port first (the one used before a restart), then any free one. */
  preferPort?: number;
  /** Receives one JSON-able object per event (start, reload, proxy errors). */
  log?(event: Record<string, unknown>): void;
}

/** A started router. */
export interface LocalRouter {
  host: string;
  port: number;
  /** Re-reads `routes.json`; an invalid document is refused and the current routes stay. */
  reload(): Promise<void>;
  /** Sends a revision's requests to a new port (its process was restarted), until the next reload. */
  setPort(revisionId: string, port: number): void;
  /** Stops accepting connections and waits for in-flight requests, up to `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

// Connection-level headers are not forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const listed = String(headers.connection ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase());
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

function sendError(res: ServerResponse, status: number, error: string, message: string, revisionId?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${JSON.stringify({ error, message, ...(revisionId === undefined ? {} : { revision_id: revisionId }) })}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...(revisionId === undefined ? {} : { [REVISION_HEADER]: revisionId }),
  });
  res.end(body);
}

interface Table {
  doc: LocalRoutesDocument;
  pickers: Map<string, WeightedPicker<LocalRouteEntry>>;
}

const weightsKey = (entries: readonly LocalRouteEntry[]) =>
  entries.map((entry) => `${entry.revision_id}=${entry.weight_bps}`).join(",");

/**
 * Starts the weighted router in this process: every request goes to one revision of the
 * applied split, chosen by {@link WeightedPicker}; bodies stream both ways.
 */
export async function startLocalRouter(options: LocalRouterOptions): Promise<LocalRouter> {
  const log = options.log ?? (() => {});
  const routesFile = join(options.stateDir, "routes.json");
  const listenFile = join(options.stateDir, "listen.json");
  // No pooled connections: a pooled socket the runtime has just closed would turn into a
  // spurious 502, and a local router gains little from reuse.
  const agent = new Agent({ keepAlive: false });
  let table: Table | undefined;
  let lastError: string | undefined;

  async function load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(routesFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        table = undefined;
        lastError = undefined;
        return;
      }
      throw error;
    }
    const doc = parseRoutes(text);
    // Keep the round-robin position of a deployment whose weights did not change (a re-warm
    // only moves a port), so a reload does not skew the ratio.
    const pickers = new Map<string, WeightedPicker<LocalRouteEntry>>();
    for (const deployment of doc.deployments) {
      const previous = table?.pickers.get(deployment.deployment_id);
      const entries = deployment.entries.map((entry) => ({ ...entry }));
      if (previous !== undefined && weightsKey(previous.entries) === weightsKey(entries)) {
        previous.entries.forEach((entry, index) => (entry.port = entries[index]!.port));
        pickers.set(deployment.deployment_id, previous);
      } else {
        pickers.set(deployment.deployment_id, new WeightedPicker(entries));
      }
    }
    table = { doc, pickers };
    lastError = undefined;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const current = table;
    if (current === undefined || current.pickers.size === 0) {
      sendError(
        res,
        503,
        "no-traffic-split",
        "no traffic split is applied in this environment yet; set one with `op traffic set`",
      );
      return;
    }
    const wanted = req.headers[DEPLOYMENT_HEADER];
    let picker: WeightedPicker<LocalRouteEntry> | undefined;
    if (typeof wanted === "string") {
      picker = current.pickers.get(wanted);
      if (picker === undefined) {
        sendError(res, 404, "unknown-deployment", `deployment ${wanted} has no traffic split in this environment`);
        return;
      }
    } else if (current.pickers.size === 1) {
      picker = current.pickers.values().next().value;
    } else {
      sendError(
        res,
        421,
        "deployment-required",
        `several deployments have traffic (${[...current.pickers.keys()].join(", ")}); choose one with the ${DEPLOYMENT_HEADER} header`,
      );
      return;
    }
    const entry = picker?.next();
    if (entry === undefined) {
      sendError(res, 503, "no-traffic-split", "the applied split gives no revision any weight");
      return;
    }
    if (entry.port === null) {
      sendError(
        res,
        502,
        "revision-down",
        `revision ${entry.revision_id} was chosen by the traffic split but is not running; warm it again or move its traffic away`,
        entry.revision_id,
      );
      return;
    }
    const headers = forwardable(req.headers);
    headers["x-forwarded-for"] = req.socket.remoteAddress ?? "";
    headers["x-forwarded-proto"] = "http";
    if (req.headers.host !== undefined) headers["x-forwarded-host"] = req.headers.host;
    const upstream = httpRequest({
      host: "127.0.0.1",
      port: entry.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    upstream.on("response", (answer) => {
      const out = forwardable(answer.headers);
      out[REVISION_HEADER] = entry.revision_id;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      answer.pipe(res);
      answer.on("error", () => res.destroy());
    });
    let failed = false;
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      // Only the first error counts: later ones (e.g. the request body still being piped
      // into the destroyed request) must not cut the 502 already being sent.
      if (failed) return;
      failed = true;
      log({
        level: "warn",
        msg: "upstream failed",
        revision_id: entry.revision_id,
        port: entry.port,
        code: error.code,
        error: error.message,
      });
      sendError(
        res,
        502,
        "revision-down",
        `revision ${entry.revision_id} (127.0.0.1:${entry.port}) did not answer: ${error.code ?? error.message}`,
        entry.revision_id,
      );
    });
    // A client that goes away cancels the upstream request; a finished response is not touched.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  await load().catch((error: Error) => {
    lastError = error.message;
    log({ level: "error", msg: "routes refused", error: error.message });
  });
  const server = createServer(handle);
  server.keepAliveTimeout = 5_000;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  if (options.port === 0 && options.preferPort !== undefined) {
    await listen(options.preferPort).catch(() => listen(0));
  } else {
    await listen(options.port);
  }
  const address = server.address() as AddressInfo;

  async function writeListen(): Promise<void> {
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const body: LocalRouterListenFile = {
      pid: process.pid,
      host: address.address,
      port: address.port,
      url: `http://${host}:${address.port}/`,
      routes_version: table?.doc.version ?? null,
      loaded_at: new Date().toISOString(),
      ...(lastError === undefined ? {} : { error: lastError }),
    };
    await writeFileAtomic(listenFile, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o644 });
  }
  await writeListen();
  log({
    level: "info",
    msg: "listening",
    host: address.address,
    port: address.port,
    routes_version: table?.doc.version ?? null,
  });

  return {
    host: address.address,
    port: address.port,
    setPort(revisionId, port) {
      for (const picker of table?.pickers.values() ?? [])
        for (const entry of picker.entries) if (entry.revision_id === revisionId) entry.port = port;
    },
    async reload() {
      try {
        await load();
        log({ level: "info", msg: "routes loaded", routes_version: table?.doc.version ?? null });
      } catch (error) {
        lastError = (error as Error).message;
        log({ level: "error", msg: "routes refused; keeping the previous ones", error: lastError });
      }
      await writeListen();
    },
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      agent.destroy();
      await rm(listenFile, { force: true });
    },
  };
}
