// Runtime start-to-ready time and public requests/s, each against a plain Node `http` static
// server serving the same files (the in-run baseline). Run by `pnpm bench` after a build.
import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { adminRequest, createAdminCertificates, readListenFile, runtimeBinPath } from "@greentic/runtime";
import { median, report, type BenchRow } from "../../../bench/lib.ts";

const RUNS = 7;
const FILES = 300;
const CONCURRENCY = 32;
const REQUESTS_PER_RUN = 4000;

const root = mkdtempSync(join(tmpdir(), "greentic-runtime-bench-"));
const bundleDir = join(root, "bundle");
const paths: string[] = [];
mkdirSync(join(bundleDir, "assets"), { recursive: true });
writeFileSync(join(bundleDir, "index.html"), `<!doctype html>${"<p>hello</p>".repeat(200)}`);
paths.push("/");
for (let i = 0; i < FILES; i++) {
  const name = `assets/file-${i}.${["js", "css", "json"][i % 3]}`;
  writeFileSync(join(bundleDir, name), "x".repeat(512 + ((i * 997) % 16_384)));
  paths.push(`/${name}`);
}
writeFileSync(
  join(bundleDir, "bundle-manifest.json"),
  JSON.stringify({ schema: "greentic.bundle-manifest.v1", bundle_id: "bench", version: "1.0.0" }),
);
execFileSync("chmod", ["-R", "a-w", bundleDir]);
const certs = await createAdminCertificates(join(root, "certs"));
const clientTls = {
  ca: readFileSync(certs.files.caCert),
  cert: readFileSync(certs.files.clientCert),
  key: readFileSync(certs.files.clientKey),
};

const BASELINE_SERVER = `
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
const root = process.argv[2];
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json; charset=utf-8" };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(req.url.split("?")[0])).replace(/^(\\.\\.[/\\\\])+/, "");
  const file = join(root, path.endsWith("/") ? path + "index.html" : path);
  try {
    const body = await readFile(file);
    res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream", "Content-Length": body.length });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;
const baselineScript = join(root, "baseline-server.mjs");
writeFileSync(baselineScript, BASELINE_SERVER);

interface Started {
  child: ChildProcess;
  port: number;
  ms: number;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns the runtime with a fresh state dir; `ms` runs until the probe answers 200: the public
 * `/` (the baseline's own signal; it answers 503 while warming) or the admin `/ready` over mTLS
 * (what deployers gate on).
 */
async function startRuntimeProcess(cacheDir: string, probe: "public" | "admin" = "public"): Promise<Started> {
  const run = mkdtempSync(join(root, "run-"));
  for (const d of ["state", "log", "tmp"]) mkdirSync(join(run, d));
  const env = {
    PATH: process.env.PATH ?? "",
    GREENTIC_BUNDLE_DIR: bundleDir,
    GREENTIC_STATE_DIR: join(run, "state"),
    GREENTIC_CACHE_DIR: cacheDir,
    GREENTIC_LOG_DIR: join(run, "log"),
    GREENTIC_TEMP_DIR: join(run, "tmp"),
    GREENTIC_PUBLIC_BIND: "127.0.0.1:0",
    GREENTIC_ADMIN_BIND: "127.0.0.1:0",
    GREENTIC_ADMIN_CA_FILE: certs.files.caCert,
    GREENTIC_ADMIN_CERT_FILE: certs.files.serverCert,
    GREENTIC_ADMIN_KEY_FILE: certs.files.serverKey,
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, [runtimeBinPath()], { env, stdio: ["ignore", "pipe", "inherit"] });
  let tail = "";
  child.stdout!.on("data", (c: Buffer) => (tail = (tail + c.toString()).slice(-2000)));
  for (;;) {
    const listen = await readListenFile(env.GREENTIC_STATE_DIR).catch(() => null);
    if (listen) {
      const status =
        probe === "admin"
          ? await adminRequest({ address: listen.admin, path: "/ready", tls: clientTls }).then(
              (r) => r.status,
              () => 0,
            )
          : await get(listen.public.port, "/", new Agent()).catch(() => 0);
      if (status === 200) return { child, port: listen.public.port, ms: performance.now() - t0 };
    }
    if (child.exitCode !== null) throw new Error(`runtime exited ${child.exitCode}: ${tail}`);
    await sleep(2);
  }
}

/** Spawns the baseline server; `ms` runs until it answers GET / with 200. */
async function startBaseline(): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [baselineScript, bundleDir], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) =>
    child.stdout!.once("data", (c: Buffer) => resolve(Number(c.toString().trim()))),
  );
  for (;;) {
    const status = await get(port, "/", new Agent()).catch(() => 0);
    if (status === 200) return { child, port, ms: performance.now() - t0 };
    await sleep(2);
  }
}

function get(port: number, path: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Requests/s for REQUESTS_PER_RUN GETs over CONCURRENCY keep-alive connections. */
async function throughput(port: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS_PER_RUN) {
        const path = paths[next++ % paths.length]!;
        const status = await get(port, path, agent);
        if (status !== 200) throw new Error(`GET ${path} answered ${status}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return REQUESTS_PER_RUN / seconds;
}

async function timeStarts(start: () => Promise<Started>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const started = await start();
    await stop(started.child);
    if (i > 0) times.push(started.ms); // the first run warms the page cache
  }
  return times;
}

try {
  const baselineStart = median(await timeStarts(startBaseline));
  const cold = median(await timeStarts(() => startRuntimeProcess(mkdtempSync(join(root, "cache-")))));
  const warmCache = mkdtempSync(join(root, "cache-"));
  const warm = median(await timeStarts(() => startRuntimeProcess(warmCache)));
  const gated = median(await timeStarts(() => startRuntimeProcess(warmCache, "admin")));
  report("runtime start to ready (spawned process)", "node http static server, spawn to first 200 on /", [
    { name: "baseline: node http server", median: baselineStart, unit: "ms", ratio: 1, runs: RUNS },
    {
      name: `runtime, cold cache (${FILES + 1} files hashed)`,
      median: cold,
      unit: "ms",
      ratio: cold / baselineStart,
      runs: RUNS,
      note: "spawn to first public 200",
    },
    {
      name: "runtime, content index reused",
      median: warm,
      unit: "ms",
      ratio: warm / baselineStart,
      runs: RUNS,
      note: "same manifest digest",
    },
    {
      name: "runtime, index reused, admin /ready gate",
      median: gated,
      unit: "ms",
      ratio: gated / baselineStart,
      runs: RUNS,
      note: "listen.json + /ready over mTLS",
    },
  ]);

  const rows: BenchRow[] = [];
  const measure = async (_name: string, started: Started) => {
    try {
      await throughput(started.port); // warm-up
      const values: number[] = [];
      for (let i = 0; i < RUNS; i++) values.push(await throughput(started.port));
      return median(values);
    } finally {
      await stop(started.child);
    }
  };
  const baselineRps = await measure("baseline", await startBaseline());
  const runtimeRps = await measure("runtime", await startRuntimeProcess(warmCache));
  rows.push({
    name: "baseline: node http server (readFile per request)",
    median: baselineRps,
    unit: "req/s",
    ratio: 1,
    runs: RUNS,
  });
  rows.push({
    name: "runtime public listener",
    median: runtimeRps,
    unit: "req/s",
    ratio: runtimeRps / baselineRps,
    runs: RUNS,
    note: `${CONCURRENCY} keep-alive connections, ${REQUESTS_PER_RUN} GETs per run, one JSON log line per request`,
  });
  report("runtime public requests per second", "node http static server", rows);
} finally {
  execFileSync("chmod", ["-R", "u+w", root]);
  rmSync(root, { recursive: true, force: true });
}
