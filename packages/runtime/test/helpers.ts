import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createAdminCertificates, type AdminCertificates, type RuntimeConfig } from "../src/index.js";

/** A temp dir removed (after restoring write bits) by the returned cleanup. */
export function tempDir(prefix = "greentic-runtime-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => removeTree(dir) };
}

export function removeTree(dir: string): void {
  try {
    makeWritable(dir);
  } catch {
    // already gone
  }
  rmSync(dir, { recursive: true, force: true });
}

function makeWritable(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  chmodSync(path, stat.mode | 0o200);
  if (stat.isDirectory()) for (const name of readdirSync(path)) makeWritable(join(path, name));
}

/** Writes `files` (path → content) under `dir`, then removes every write bit unless told not to. */
export function writeBundle(
  dir: string,
  files: Record<string, string | Buffer>,
  options: { readOnly?: boolean } = {},
): string {
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  if (options.readOnly !== false) execFileSync("chmod", ["-R", "a-w", dir]);
  return dir;
}

export interface Layout {
  root: string;
  bundleDir: string;
  certs: AdminCertificates;
  env: Record<string, string>;
  config: RuntimeConfig;
}

/** A complete runtime layout in `root`: bundle, the four writable dirs, certificates, env and config. */
export async function makeLayout(
  root: string,
  files: Record<string, string | Buffer>,
  certs?: AdminCertificates,
): Promise<Layout> {
  const bundleDir = writeBundle(join(root, "bundle"), files);
  for (const d of ["state", "cache", "log", "tmp"]) mkdirSync(join(root, d));
  const material = certs ?? (await createAdminCertificates(join(root, "certs")));
  const env = {
    GREENTIC_BUNDLE_DIR: bundleDir,
    GREENTIC_STATE_DIR: join(root, "state"),
    GREENTIC_CACHE_DIR: join(root, "cache"),
    GREENTIC_LOG_DIR: join(root, "log"),
    GREENTIC_TEMP_DIR: join(root, "tmp"),
    GREENTIC_PUBLIC_BIND: "127.0.0.1:0",
    GREENTIC_ADMIN_BIND: "127.0.0.1:0",
    GREENTIC_ADMIN_CA_FILE: material.files.caCert,
    GREENTIC_ADMIN_CERT_FILE: material.files.serverCert,
    GREENTIC_ADMIN_KEY_FILE: material.files.serverKey,
  };
  const config: RuntimeConfig = {
    bundleDir,
    stateDir: env.GREENTIC_STATE_DIR,
    cacheDir: env.GREENTIC_CACHE_DIR,
    logDir: env.GREENTIC_LOG_DIR,
    tempDir: env.GREENTIC_TEMP_DIR,
    publicBind: { host: "127.0.0.1", port: 0 },
    adminBind: { host: "127.0.0.1", port: 0 },
    adminCaFile: material.files.caCert,
    adminCertFile: material.files.serverCert,
    adminKeyFile: material.files.serverKey,
    readinessPath: "/ready",
    livenessPath: "/health",
    revisionId: "01JTESTREVISION0000000000",
    drainTimeoutMs: 10_000,
    accessLog: true,
  };
  return { root, bundleDir, certs: material, env, config };
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A plain HTTP request on a fresh connection. */
export function httpGet(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/**
 * Sends a request line exactly as written (no client-side normalization of `..` or `%2e`),
 * and returns the status code from the response.
 */
export function rawRequest(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    let data = "";
    socket.on("data", (c: Buffer) => (data += c.toString("latin1")));
    socket.on("end", () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (match) resolve(Number(match[1]));
      else reject(new Error(`no HTTP status in ${JSON.stringify(data.slice(0, 200))}`));
    });
    socket.on("error", reject);
  });
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
