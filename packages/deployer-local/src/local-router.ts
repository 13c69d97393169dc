import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import {
  STATUS_CODES,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { type AddressInfo, connect } from "node:net";
import type { Duplex } from "node:stream";
import { join } from "node:path";
import { compareRouteScores, routeScore } from "@greentic/deploy-spec/routes";
import { writeFileAtomic } from "@greentic/io-kit";
import type { Dispatcher } from "undici";
import { parseListenAddress } from "./listen-address.js";

export { parseListenAddress };

// The router runs as its own process (see local-router-bin.ts): this module imports Node
// built-ins, the I/O kit and deploy-spec's route rules (no zod) only, so the bundled entry stays
// small and starts fast.

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
  /** Route binding hosts (`shop.example.com`, `*.example.com`, `host:port`); absent or empty: any host. */
  hosts?: string[];
  /** Route binding path prefixes (`/shop`); absent or empty: every path. */
  path_prefixes?: string[];
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
  /** The keeper that restarts this router when it dies (router-keeper.ts). */
  keeper_pid?: number;
  /** `version` of the routes document in use (`null`: none applied yet). */
  routes_version: string | null;
  loaded_at: string;
  /** Why the last reload was refused (the previous routes stay in use). */
  error?: string;
}

/** Upstream sockets idle longer than this are closed (below the runtime's 5 s keep-alive). */
export const UPSTREAM_IDLE_MS = 4_000;
/** A revision that does not accept a connection within this is reported down (502). */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 2_000;
/** A revision that sends nothing for this long while a response is due gets a 504. */
export const UPSTREAM_RESPONSE_TIMEOUT_MS = 60_000;

/** `X-Forwarded-For` with the client appended to what earlier proxies recorded. */
export function appendForwardedFor(existing: string | string[] | undefined, client: string | undefined): string {
  const before = Array.isArray(existing) ? existing.join(", ") : (existing ?? "");
  return [before.trim(), client ?? ""].filter((part) => part !== "").join(", ");
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

/**
 * The version token of a routes document: a digest of what it routes, so two writers that
 * bring the router to the same routes (a command and the supervisor repairing drift) write
 * the same token, and a command waiting for its token is not misled by the other's write.
 */
export function routesVersion(envId: string, deployments: readonly LocalRouteDeployment[]): string {
  return createHash("sha256").update(JSON.stringify({ envId, deployments })).digest("hex").slice(0, 16);
}

/** `stats.json` in the router's state dir: requests and errors per revision since the router started. */
export interface LocalRouterStatsFile {
  pid: number;
  started_at: string;
  written_at: string;
  revisions: Record<string, RevisionCounters>;
  /** Requests answered by the router itself because no revision could be chosen (421, 404, 503). */
  unrouted: number;
}

/** Counters of one revision, as the router saw its answers. */
export interface RevisionCounters {
  requests: number;
  /** Answers with status 500–599, including the router's own 502/504 for the revision. */
  errors_5xx: number;
  /** Per-second counts for the last {@link STATS_WINDOW_SECONDS} s: `[epoch second, requests, errors]`. */
  seconds: [number, number, number][];
  /** The most recent request durations in ms (at most {@link STATS_DURATIONS}), for p99. */
  durations_ms: number[];
}

export const STATS_WINDOW_SECONDS = 600;
export const STATS_DURATIONS = 1_024;
/** How often the router rewrites `stats.json` while it has new counts. */
export const STATS_WRITE_MS = 500;

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
    for (const field of ["hosts", "path_prefixes"] as const) {
      const list = deployment[field];
      if (list !== undefined && !(Array.isArray(list) && list.every((item) => typeof item === "string")))
        throw new Error(`deployment ${deployment.deployment_id}: ${field} is not a list of strings`);
    }
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
  /** The router's keeper (router-keeper.ts), named in `listen.json`. */
  keeperPid?: number;
  /** Receives one JSON-able object per event (start, reload, proxy errors). */
  log?(event: Record<string, unknown>): void;
}

/** A started router. */
export interface LocalRouter {
  host: string;
  port: number;
  /** Re-reads `routes.json`; an invalid document is refused and the current routes stay. */
  reload(): Promise<void>;
  /** Records a new keeper (the previous one died) in `listen.json`. */
  setKeeper(pid: number): Promise<void>;
  /** Sends a revision's requests to a new port (its process was restarted), until the next reload. */
  setPort(revisionId: string, port: number): void;
  /** The deployments served now, with their weights and ports (`undefined`: no routes loaded). */
  served(): LocalRouteDeployment[] | undefined;
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
  // Most requests say `keep-alive` (or nothing): no further header names to drop.
  const connection = headers.connection;
  const listed =
    connection === undefined || connection === "keep-alive" || connection === "close"
      ? undefined
      : connection.split(",").map((name) => name.trim().toLowerCase());
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.includes(name)) continue;
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
  bindings: RouteMatcher[];
  /** The one deployment's picker when a single deployment claims every request (no matching needed). */
  sole?: WeightedPicker<LocalRouteEntry>;
}

/** One deployment's route binding, prepared for matching. */
interface RouteMatcher {
  deploymentId: string;
  /** Lower-case hosts; empty: any host. */
  hosts: string[];
  /** Prefixes without a trailing `/`, the root as `/`; empty: every path. */
  prefixes: string[];
}

function routeMatcher(deployment: LocalRouteDeployment): RouteMatcher {
  return {
    deploymentId: deployment.deployment_id,
    hosts: (deployment.hosts ?? []).map((host) => host.toLowerCase()),
    prefixes: (deployment.path_prefixes ?? []).map((prefix) => prefix.replace(/\/+$/u, "") || "/"),
  };
}

// The matching rules (exact host > `*.` wildcard > any, then the longest path prefix) are
// deploy-spec's, shared with the single-VM proxy, which renders them as HAProxy rules.
export { routeScore };
const compareScores = compareRouteScores;

const weightsKey = (entries: readonly LocalRouteEntry[]) =>
  entries.map((entry) => `${entry.revision_id}=${entry.weight_bps}`).join(",");

/**
 * Starts the weighted router in this process: every request goes to one revision of the
 * applied split, chosen by {@link WeightedPicker}; bodies stream both ways.
 */
export async function startLocalRouter(options: LocalRouterOptions): Promise<LocalRouter> {
  const log = options.log ?? (() => {});
  let keeperPid = options.keeperPid;
  const routesFile = join(options.stateDir, "routes.json");
  const listenFile = join(options.stateDir, "listen.json");
  let table: Table | undefined;
  let lastError: string | undefined;
  const statsFile = join(options.stateDir, "stats.json");
  const startedAt = new Date().toISOString();
  const counters = new Map<string, RevisionCounters>();
  const cursors = new Map<string, number>();
  let unrouted = 0;
  let statsDirty = false;

  /** Counts one answer of `revisionId` (status and time taken). */
  function count(revisionId: string, status: number, startedMs: number): void {
    let c = counters.get(revisionId);
    if (c === undefined) {
      c = { requests: 0, errors_5xx: 0, seconds: [], durations_ms: [] };
      counters.set(revisionId, c);
    }
    const error = status >= 500 && status <= 599 ? 1 : 0;
    c.requests += 1;
    c.errors_5xx += error;
    const now = Date.now();
    const second = Math.floor(now / 1000);
    const last = c.seconds[c.seconds.length - 1];
    if (last !== undefined && last[0] === second) {
      last[1] += 1;
      last[2] += error;
    } else {
      c.seconds.push([second, 1, error]);
      while (c.seconds.length > 0 && c.seconds[0]![0] <= second - STATS_WINDOW_SECONDS) c.seconds.shift();
    }
    // A ring of the last STATS_DURATIONS durations (order does not matter for a percentile).
    const slot = (cursors.get(revisionId) ?? 0) % STATS_DURATIONS;
    c.durations_ms[slot] = now - startedMs;
    cursors.set(revisionId, slot + 1);
    statsDirty = true;
  }

  async function writeStats(): Promise<void> {
    statsDirty = false;
    const body: LocalRouterStatsFile = {
      pid: process.pid,
      started_at: startedAt,
      written_at: new Date().toISOString(),
      revisions: Object.fromEntries(counters),
      unrouted,
    };
    await writeFileAtomic(statsFile, `${JSON.stringify(body)}\n`, { mode: 0o644 });
  }

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
    const bindings = doc.deployments.map(routeMatcher);
    const only = bindings.length === 1 ? bindings[0]! : undefined;
    table = {
      doc,
      pickers,
      bindings,
      ...(only !== undefined && only.hosts.length === 0 && only.prefixes.length === 0
        ? { sole: pickers.get(only.deploymentId)! }
        : {}),
    };
    lastError = undefined;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const startedMs = Date.now();
    const entry = pick(req);
    if ("error" in entry) {
      const [status, error, message, revisionId] = entry.error;
      if (revisionId === undefined) {
        unrouted += 1;
        statsDirty = true;
      } else count(revisionId, status, startedMs);
      sendError(res, status, error, message, revisionId);
      return;
    }
    // Counted once the answer is sent (or the client went away: no status, not an error).
    res.once("finish", () => count(entry.revision_id, res.statusCode, startedMs));
    if (entry.port === null) return;
    const headers = forwardable(req.headers);
    headers["x-forwarded-for"] = appendForwardedFor(req.headers["x-forwarded-for"], req.socket.remoteAddress);
    headers["x-forwarded-proto"] = "http";
    // The router's own server answered any `Expect: 100-continue` already.
    delete headers.expect;
    if (req.headers.host !== undefined) headers["x-forwarded-host"] = req.headers.host;
    forward(req, res, entry.revision_id, entry.port, headers, true);
  }

  // Forwarding through undici (measured against node:http's Agent in the same run: about half
  // the CPU per request): pooled keep-alive connections per revision, pipelining off (a revision
  // answers one request per connection at a time), connect and response timeouts, and pooled
  // sockets closed after UPSTREAM_IDLE_MS idle, below the runtime's 5 s keep-alive. A request
  // that still meets a reset on a reused socket is retried once when it has no body.
  // Imported here, not at the top: the deployer library shares this module (routesVersion),
  // and every `op` command would otherwise load undici at start-up.
  const { Agent: UpstreamAgent } = await import("undici");
  const upstreams = new UpstreamAgent({
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: UPSTREAM_IDLE_MS,
    keepAliveMaxTimeout: UPSTREAM_IDLE_MS,
    connect: { timeout: UPSTREAM_CONNECT_TIMEOUT_MS },
    headersTimeout: UPSTREAM_RESPONSE_TIMEOUT_MS,
    bodyTimeout: UPSTREAM_RESPONSE_TIMEOUT_MS,
  });

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    revisionId: string,
    port: number,
    headers: Record<string, string | string[]>,
    mayRetry: boolean,
  ): void {
    const bodyless = req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined;
    let controller: Dispatcher.DispatchController | undefined;
    let started = false;
    const onClose = () => {
      if (!res.writableFinished) controller?.abort(new Error("the client went away"));
    };
    res.on("close", onClose);
    upstreams.dispatch(
      {
        origin: `http://127.0.0.1:${port}`,
        path: req.url ?? "/",
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: bodyless ? null : req,
      },
      {
        onRequestStart(c) {
          controller = c;
        },
        onResponseStart(c, statusCode, answerHeaders, statusMessage) {
          started = true;
          const out = forwardable(answerHeaders as IncomingHttpHeaders);
          out[REVISION_HEADER] = revisionId;
          res.writeHead(statusCode, statusMessage ?? "", out);
          res.on("drain", () => c.resume());
        },
        onResponseData(c, chunk) {
          if (!res.write(chunk)) c.pause();
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError(_c, error: Error & { code?: string }) {
          res.off("close", onClose);
          if (started || res.destroyed) {
            res.destroy();
            return;
          }
          // A pooled socket the runtime closed just as it was reused: once more on a fresh one,
          // for requests without a body (nothing was consumed from the client).
          if (mayRetry && bodyless && (error.code === "ECONNRESET" || error.code === "UND_ERR_SOCKET")) {
            forward(req, res, revisionId, port, headers, false);
            return;
          }
          log({
            level: "warn",
            msg: "upstream failed",
            revision_id: revisionId,
            port,
            code: error.code,
            error: error.message,
          });
          const timedOut = error.code === "UND_ERR_HEADERS_TIMEOUT" || error.code === "UND_ERR_BODY_TIMEOUT";
          const code = error.code === "UND_ERR_CONNECT_TIMEOUT" ? "connect timeout" : (error.code ?? error.message);
          sendError(
            res,
            timedOut ? 504 : 502,
            timedOut ? "revision-timeout" : "revision-down",
            timedOut
              ? `revision ${revisionId} (127.0.0.1:${port}) sent no answer within ${UPSTREAM_RESPONSE_TIMEOUT_MS} ms`
              : `revision ${revisionId} (127.0.0.1:${port}) did not answer: ${code}`,
            revisionId,
          );
        },
      },
    );
  }

  /** The revision a request goes to (`undefined` after an error answer was sent on `res`). */
  function pick(req: IncomingMessage): LocalRouteEntry | { error: [number, string, string, string?] } {
    const current = table;
    if (current === undefined || current.pickers.size === 0)
      return {
        error: [
          503,
          "no-traffic-split",
          "no traffic split is applied in this environment yet; set one with `op traffic set`",
        ],
      };
    const wanted = req.headers[DEPLOYMENT_HEADER];
    let picker: WeightedPicker<LocalRouteEntry> | undefined;
    if (typeof wanted === "string") {
      picker = current.pickers.get(wanted);
      if (picker === undefined)
        return { error: [404, "unknown-deployment", `deployment ${wanted} has no traffic split in this environment`] };
    } else if (current.sole !== undefined) {
      picker = current.sole;
    } else {
      // The most specific route binding wins; none is 404, equal bests cannot be told apart (421).
      const hostHeader = req.headers.host ?? "";
      const path = (req.url ?? "/").split("?")[0]!;
      let best: [number, number, number] | undefined;
      let winners: string[] = [];
      for (const matcher of current.bindings) {
        const score = routeScore(matcher, hostHeader, path);
        if (score === undefined) continue;
        const order = best === undefined ? 1 : compareScores(score, best);
        if (order > 0) [best, winners] = [score, [matcher.deploymentId]];
        else if (order === 0) winners.push(matcher.deploymentId);
      }
      if (winners.length === 0)
        return {
          error: [
            404,
            "no-route",
            `no deployment's route binding matches host ${JSON.stringify(hostHeader)} and path ${JSON.stringify(path)} (deployments: ${[...current.pickers.keys()].join(", ")}); use a bound host or path prefix, or choose one with the ${DEPLOYMENT_HEADER} header`,
          ],
        };
      if (winners.length > 1)
        return {
          error: [
            421,
            "deployment-required",
            `several deployments have traffic for host ${JSON.stringify(hostHeader)} and path ${JSON.stringify(path)} (${winners.join(", ")}); give them route bindings or choose one with the ${DEPLOYMENT_HEADER} header`,
          ],
        };
      picker = current.pickers.get(winners[0]!);
    }
    const entry = picker?.next();
    if (entry === undefined)
      return { error: [503, "no-traffic-split", "the applied split gives no revision any weight"] };
    if (entry.port === null)
      return {
        error: [
          502,
          "revision-down",
          `revision ${entry.revision_id} was chosen by the traffic split but is not running; warm it again or move its traffic away`,
          entry.revision_id,
        ],
      };
    return entry;
  }

  /** WebSocket (and any other) upgrades: a raw tunnel to the chosen revision. */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const chosen = pick(req);
    if ("error" in chosen) {
      const [status, error, message] = chosen.error;
      const body = `${JSON.stringify({ error, message })}\n`;
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port: chosen.port! });
    const timer = setTimeout(() => upstream.destroy(), UPSTREAM_CONNECT_TIMEOUT_MS);
    upstream.once("connect", () => {
      clearTimeout(timer);
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        if (name.toLowerCase() === "x-forwarded-for") continue;
        lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
      }
      lines.push(`x-forwarded-for: ${appendForwardedFor(req.headers["x-forwarded-for"], req.socket.remoteAddress)}`);
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const close = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on("error", () => {
      clearTimeout(timer);
      if (socket.writable && upstream.bytesRead === 0)
        socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      else close();
    });
    socket.on("error", close);
    upstream.on("close", () => socket.destroy());
    socket.on("close", () => upstream.destroy());
  }

  await load().catch((error: Error) => {
    lastError = error.message;
    log({ level: "error", msg: "routes refused", error: error.message });
  });
  const server = createServer(handle);
  server.on("upgrade", upgrade);
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
      ...(keeperPid === undefined ? {} : { keeper_pid: keeperPid }),
      routes_version: table?.doc.version ?? null,
      loaded_at: new Date().toISOString(),
      ...(lastError === undefined ? {} : { error: lastError }),
    };
    await writeFileAtomic(listenFile, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o644 });
  }
  // listen.json last: it tells the deployer the router is up (and ready for SIGTERM).
  await writeStats();
  await writeListen();
  const statsTimer = setInterval(() => {
    if (statsDirty) void writeStats().catch(() => undefined);
  }, STATS_WRITE_MS);
  statsTimer.unref();
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
    served() {
      return table?.doc.deployments.map((deployment) => ({
        ...deployment,
        entries: (table?.pickers.get(deployment.deployment_id)?.entries ?? deployment.entries).map((entry) => ({
          ...entry,
        })),
      }));
    },
    async setKeeper(pid) {
      keeperPid = pid;
      await writeListen();
    },
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
      clearInterval(statsTimer);
      await upstreams.close().catch(() => undefined);
      await rm(listenFile, { force: true });
    },
  };
}
