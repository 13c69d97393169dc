// The local router against HAProxy, side by side on the same two revisions of the hello fixture
// (a 50/50 split), each loaded by wrk with 32 connections; medians of alternating runs, the
// router's req/s and p99 as ratios to HAProxy's. Needs wrk and haproxy (Debian packages).
// Run by `pnpm bench` after a build; everything runs through the real `op` binary.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, median, report, wrk } from "../../../bench/lib.ts";

const RUNS = 5;
const SECONDS = 3;
const CONNECTIONS = 32;
const repo = resolve(import.meta.dirname, "../../..");
const bin = join(repo, "apps", "op", "bin", "run.js");
const root = mkdtempSync(join(tmpdir(), "greentic-router-bench-"));
const home = join(root, "home");

function op(...args: string[]): any {
  const r = spawnSync(process.execPath, [bin, ...args, "--json", "--store-root", home], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`op ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout).result;
}

function bundle(variant: string): string {
  const src = join(root, variant);
  cpSync(join(repo, "fixtures", "bundles", "hello"), src, { recursive: true });
  writeFileSync(join(src, "variant.txt"), variant);
  const out = join(root, `${variant}.gtbundle`);
  op("bundles", "build", src, "--bundle-id", "hello", "--bundle-version", "0.1.0", "--out", out);
  return out;
}

const load = (url: string) => wrk(url, { seconds: SECONDS, connections: CONNECTIONS });

let haproxy: ReturnType<typeof spawn> | undefined;
try {
  op("env", "init");
  const a = op("deploy", "--bundle", bundle("a"));
  const b = op("revisions", "stage", "local", "--deployment", a.deployment_id, "--bundle", bundle("b")).revision;
  op("revisions", "warm", "local", b.revision_id);
  const moved = op(
    "traffic",
    "set",
    "local",
    `${a.revision_id}=50`,
    `${b.revision_id}=50`,
    "--deployment",
    a.deployment_id,
    "--idempotency-key",
    "bench",
  );
  const urls = op("status", "local").revisions.map((r: { url: string }) => new URL(r.url));
  const port = await freePort();
  const cfg = join(root, "haproxy.cfg");
  writeFileSync(
    cfg,
    [
      "global",
      "  maxconn 4096",
      "defaults",
      "  mode http",
      "  timeout connect 2s",
      "  timeout client 30s",
      "  timeout server 30s",
      "  option forwardfor",
      "  http-reuse always",
      "frontend env",
      `  bind 127.0.0.1:${port}`,
      "  default_backend revisions",
      "backend revisions",
      "  balance roundrobin",
      ...urls.map((u: URL, i: number) => `  server r${i} 127.0.0.1:${u.port} weight 50`),
      "",
    ].join("\n"),
  );
  haproxy = spawn("haproxy", ["-db", "-f", cfg], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 500));
  const haproxyUrl = `http://127.0.0.1:${port}/`;
  const routerUrl: string = moved.environment_url;
  load(haproxyUrl);
  load(routerUrl); // warm-up
  const h: { rps: number; p99: number }[] = [];
  const r: { rps: number; p99: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    h.push(load(haproxyUrl));
    r.push(load(routerUrl));
  }
  const hr = median(h.map((x) => x.rps));
  const rr = median(r.map((x) => x.rps));
  const hp = median(h.map((x) => x.p99));
  const rp = median(r.map((x) => x.p99));
  report("local router vs HAProxy, two revisions 50/50, wrk -c32", "HAProxy", [
    { name: "HAProxy req/s", median: hr, unit: "req/s", ratio: 1, runs: RUNS },
    { name: "router req/s", median: rr, unit: "req/s", ratio: rr / hr, runs: RUNS, note: "target >= 0.5x" },
    { name: "HAProxy p99", median: hp, unit: "ms", ratio: 1, runs: RUNS },
    { name: "router p99", median: rp, unit: "ms", ratio: rp / hp, runs: RUNS, note: "target <= 2x" },
  ]);
} finally {
  haproxy?.kill("SIGTERM");
  spawnSync(process.execPath, [bin, "env", "destroy", "local", "--confirm", "--store-root", home]);
  rmSync(root, { recursive: true, force: true });
}
