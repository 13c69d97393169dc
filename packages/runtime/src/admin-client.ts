import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { formatHostPort, parseHostPort } from "@greentic/io-kit";
import type { HostPort } from "./config.js";
import { LISTEN_FILE, type ListenFile } from "./server.js";

/** PEM material for an mTLS client. */
export interface ClientTlsMaterial {
  /** CA that signed the runtime's server certificate. */
  ca: string | Buffer;
  /** Operator client certificate. */
  cert: string | Buffer;
  key: string | Buffer;
}

export interface AdminRequestOptions {
  /** The admin endpoint: `{host, port}` or `host:port` (`[::1]:8433`). */
  address: HostPort | string;
  path: string;
  /** Default GET. */
  method?: string;
  /** JSON request body (sent with `Content-Type: application/json`). */
  body?: unknown;
  /** A directory holding `ca.crt`, `client.crt`, `client.key` (the createAdminCertificates layout). */
  certDir?: string;
  /** Explicit material; wins over `certDir`. */
  tls?: ClientTlsMaterial;
  /** Whole-request timeout. Default 5000 ms. */
  timeoutMs?: number;
}

export interface AdminResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The parsed body when the response is JSON. */
  json?: unknown;
}

/**
 * One HTTPS request to a runtime's admin endpoint, presenting a client certificate and trusting
 * only the given CA. Connection and TLS failures throw GreenticError: `unauthorized` when the
 * handshake was refused (by either side), `io` otherwise. Any HTTP status is a result.
 */
export async function adminRequest(options: AdminRequestOptions): Promise<AdminResponse> {
  const address = typeof options.address === "string" ? parseAddress(options.address) : options.address;
  const tls = options.tls ?? (await readClientMaterial(options.certDir));
  const timeoutMs = options.timeoutMs ?? 5000;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const target = `https://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}${options.path}`;
  return new Promise<AdminResponse>((resolve, reject) => {
    const req = request(
      {
        host: address.host,
        port: address.port,
        path: options.path,
        method: options.method ?? "GET",
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        agent: false,
        timeout: timeoutMs,
        headers:
          payload === undefined
            ? {}
            : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (error) => reject(toError(error, target)));
        res.on("end", () => {
          clearTimeout(timer);
          const body = Buffer.concat(chunks).toString("utf8");
          const out: AdminResponse = { status: res.statusCode ?? 0, headers: res.headers, body };
          if (/\bjson\b/.test(String(res.headers["content-type"] ?? ""))) {
            try {
              out.json = JSON.parse(body);
            } catch {
              // Leave json unset: the caller still has the raw body.
            }
          }
          resolve(out);
        });
      },
    );
    // `timeout` above only covers idle sockets; this bounds the whole exchange.
    const timer = setTimeout(
      () => req.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: "ETIMEDOUT" })),
      timeoutMs,
    );
    req.on("timeout", () =>
      req.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: "ETIMEDOUT" })),
    );
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(toError(error, target));
    });
    req.end(payload);
  });
}

export interface WaitForReadyOptions extends Omit<AdminRequestOptions, "path" | "method" | "body"> {
  /** Default `/ready`. */
  readinessPath?: string;
  /** Give up after this long. Default 60 000 ms. */
  timeoutMs?: number;
  /** Pause between probes. Default 100 ms. */
  intervalMs?: number;
  /** Per-probe timeout. Default 2000 ms. */
  requestTimeoutMs?: number;
}

/**
 * Polls the readiness path until it answers 200. On timeout throws GreenticError
 * `precondition-failed` whose message and `details.last` carry the last status or error seen.
 */
export async function waitForReady(options: WaitForReadyOptions): Promise<AdminResponse> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const interval = options.intervalMs ?? 100;
  const tls = options.tls ?? (await readClientMaterial(options.certDir));
  let last: string = "no probe finished";
  for (;;) {
    try {
      const response = await adminRequest({
        address: options.address,
        path: options.readinessPath ?? "/ready",
        tls,
        timeoutMs: Math.max(1, Math.min(options.requestTimeoutMs ?? 2000, deadline - Date.now())),
      });
      if (response.status === 200) return response;
      last = `status ${response.status}: ${response.body.trim()}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() + interval > deadline) {
      throw new GreenticError(
        "precondition-failed",
        `runtime at ${formatAddress(options.address)} did not become ready in ${options.timeoutMs ?? 60_000} ms; last: ${last}`,
        {
          hint: "check the runtime's log (it logs one JSON line per event on stdout)",
          details: { last },
        },
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Reads `<stateDir>/listen.json`; null while the runtime has not bound its listeners yet. */
export async function readListenFile(stateDir: string): Promise<ListenFile | null> {
  const file = join(stateDir, LISTEN_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new GreenticError("io", `cannot read ${file}: ${(error as Error).message}`, { path: file, cause: error });
  }
  try {
    return JSON.parse(text) as ListenFile;
  } catch (error) {
    throw new GreenticError("integrity", `${file} is not JSON: ${(error as Error).message}`, {
      path: file,
      hint: "it is written atomically by the runtime; was it edited by hand?",
    });
  }
}

async function readClientMaterial(certDir: string | undefined): Promise<ClientTlsMaterial> {
  if (certDir === undefined) {
    throw new GreenticError("invalid-argument", "adminRequest needs certDir or tls", {
      hint: "pass the directory written by createAdminCertificates",
    });
  }
  try {
    const [ca, cert, key] = await Promise.all(
      ["ca.crt", "client.crt", "client.key"].map((f) => readFile(join(certDir, f))),
    );
    return { ca: ca!, cert: cert!, key: key! };
  } catch (error) {
    throw new GreenticError(
      "not-found",
      `cannot read the client certificate layout in ${certDir}: ${(error as Error).message}`,
      {
        path: certDir,
        hint: "it must hold ca.crt, client.crt and client.key (createAdminCertificates writes them)",
        cause: error,
      },
    );
  }
}

function parseAddress(address: string): HostPort {
  const parsed = parseHostPort(address);
  if (!parsed)
    throw new GreenticError("invalid-argument", `admin address ${JSON.stringify(address)} is not host:port`, {
      path: "address",
      hint: "e.g. 127.0.0.1:8433 or [::1]:8433",
    });
  return parsed;
}

function formatAddress(address: HostPort | string): string {
  return typeof address === "string" ? address : formatHostPort(address.host, address.port);
}

const TLS_REFUSED = /certificate|handshake|alert|SSL|TLS|self[- ]signed|unable to verify|ERR_TLS/i;

function toError(error: NodeJS.ErrnoException, target: string): GreenticError {
  const code = error.code ?? "";
  const tlsRefused = TLS_REFUSED.test(code) || TLS_REFUSED.test(error.message);
  // A server that rejects our certificate under TLS 1.3 often shows up as a bare reset.
  const reset = code === "ECONNRESET" || code === "EPIPE";
  if (tlsRefused || reset) {
    return new GreenticError(
      "unauthorized",
      `TLS connection to ${target} refused: ${error.message}${code ? ` (${code})` : ""}`,
      {
        hint: "present a client certificate issued by the runtime's admin CA, and trust the CA that issued its server certificate",
        details: { code },
        cause: error,
      },
    );
  }
  return new GreenticError("io", `request to ${target} failed: ${error.message}${code ? ` (${code})` : ""}`, {
    hint:
      code === "ECONNREFUSED"
        ? "is the runtime running and listening on that address?"
        : "check the address and that the runtime is up",
    details: { code },
    cause: error,
  });
}
