// The single-file executables against the same code run by `node`, in one run:
// - greentic-runtime-linux-x64 vs `node packages/runtime/dist/bin.js`: spawn to /ready over mTLS;
// - op-linux-x64 vs `node apps/op/bin/run.js`: a read-only verb, help;
// each the median of repeated runs, as a ratio to the `node` form. Builds the release into a
// temporary directory first (about 20 s).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { median, report, timeCommand, type BenchRow } from "../../../bench/lib.ts";

// The built runtime library (`pnpm bench` builds first); typed from its sources.
const runtimeDist = "../../../packages/runtime/dist/index.js";
const { adminRequest, createAdminCertificates, readListenFile } = (await import(
  runtimeDist
)) as typeof import("../../../packages/runtime/src/index.ts");
const repo = resolve(import.meta.dirname, "../../..");
const RUNS = Number(process.env.SEA_BENCH_RUNS ?? 11);
const tmp = mkdtempSync(join(tmpdir(), "greentic-sea-bench-"));

try {
  const release = join(tmp, "release");
  execFileSync(process.execPath, [join(repo, "scripts/release/build.ts")], {
    env: { ...process.env, GREENTIC_RELEASE_DIR: release },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const rows = await runtimeRows(join(release, "greentic-runtime-linux-x64"));
  report("greentic-runtime start to ready: single executable vs node", "node packages/runtime/dist/bin.js", rows);
  report(
    "op start-up: single executable vs node",
    "node apps/op/bin/run.js, same verb",
    opRows(join(release, "op-linux-x64")),
  );
} finally {
  execFileSync("chmod", ["-R", "u+w", tmp]);
  rmSync(tmp, { recursive: true, force: true });
}

async function runtimeRows(sea: string): Promise<BenchRow[]> {
  const bundleDir = join(tmp, "bundle");
  mkdirSync(join(bundleDir, "assets"), { recursive: true });
  writeFileSync(join(bundleDir, "index.html"), "<!doctype html><p>hello</p>");
  for (let i = 0; i < 100; i++) writeFileSync(join(bundleDir, "assets", `f${i}.js`), "x".repeat(1000 + i));
  writeFileSync(
    join(bundleDir, "bundle-manifest.json"),
    JSON.stringify({ schema: "greentic.bundle-manifest.v1", bundle_id: "bench", version: "1.0.0" }),
  );
  // The runtime refuses a writable bundle (a squashfs mount is read-only).
  execFileSync("chmod", ["-R", "a-w", bundleDir]);
  const certs = await createAdminCertificates(join(tmp, "certs"));
  const tls = {
    ca: readFileSync(certs.files.caCert),
    cert: readFileSync(certs.files.clientCert),
    key: readFileSync(certs.files.clientKey),
  };
  const cache = join(tmp, "cache");
  mkdirSync(cache);
  const startToReady = async (argv: string[]): Promise<number> => {
    const run = mkdtempSync(join(tmp, "run-"));
    for (const d of ["state", "log", "tmp"]) mkdirSync(join(run, d));
    const env = {
      PATH: process.env.PATH ?? "",
      GREENTIC_BUNDLE_DIR: bundleDir,
      GREENTIC_STATE_DIR: join(run, "state"),
      GREENTIC_CACHE_DIR: cache,
      GREENTIC_LOG_DIR: join(run, "log"),
      GREENTIC_TEMP_DIR: join(run, "tmp"),
      GREENTIC_PUBLIC_BIND: "127.0.0.1:0",
      GREENTIC_ADMIN_BIND: "127.0.0.1:0",
      GREENTIC_ADMIN_CA_FILE: certs.files.caCert,
      GREENTIC_ADMIN_CERT_FILE: certs.files.serverCert,
      GREENTIC_ADMIN_KEY_FILE: certs.files.serverKey,
    };
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "ignore", "inherit"] });
    try {
      for (;;) {
        const listen = await readListenFile(env.GREENTIC_STATE_DIR).catch(() => null);
        if (listen) {
          const status = await adminRequest({ address: listen.admin, path: "/ready", tls }).then(
            (r) => r.status,
            () => 0,
          );
          if (status === 200) return performance.now() - t0;
        }
        if (child.exitCode !== null) throw new Error(`${argv.join(" ")} exited ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    }
  };
  const nodeArgv = [process.execPath, join(repo, "packages/runtime/dist/bin.js")];
  const nodeTimes: number[] = [];
  const seaTimes: number[] = [];
  // Interleaved, after one warm-up each, so that machine noise hits both forms alike.
  await startToReady(nodeArgv);
  await startToReady([sea]);
  for (let i = 0; i < RUNS; i++) {
    nodeTimes.push(await startToReady(nodeArgv));
    seaTimes.push(await startToReady([sea]));
  }
  const base = median(nodeTimes);
  const m = median(seaTimes);
  return [
    {
      name: "node dist/bin.js (baseline)",
      median: base,
      unit: "ms",
      ratio: 1,
      runs: RUNS,
      note: "spawn to /ready 200",
    },
    { name: "greentic-runtime-linux-x64", median: m, unit: "ms", ratio: m / base, runs: RUNS, note: "same" },
  ];
}

function opRows(sea: string): BenchRow[] {
  const store = mkdtempSync(join(tmp, "store-"));
  const env = { ...process.env, NO_COLOR: "1" };
  execFileSync(sea, ["env", "init", "--store-root", store], { env, stdio: "ignore" });
  const bin = join(repo, "apps/op/bin/run.js");
  const cases: [string, string[], NodeJS.ProcessEnv][] = [
    ["op env show local --json", ["env", "show", "local", "--json", "--store-root", store], env],
    ["op --help", ["--help"], env],
  ];
  const rows: BenchRow[] = [];
  for (const [name, args, caseEnv] of cases) {
    const base = median(timeCommand(process.execPath, [bin, ...args], RUNS, caseEnv));
    const m = median(timeCommand(sea, args, RUNS, caseEnv));
    rows.push({ name: `${name}: node bin/run.js (baseline)`, median: base, unit: "ms", ratio: 1, runs: RUNS });
    rows.push({ name: `${name}: op-linux-x64`, median: m, unit: "ms", ratio: m / base, runs: RUNS });
  }
  return rows;
}
