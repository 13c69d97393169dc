// Store throughput and read latency. Run with `pnpm bench store` (builds first).
import { spawn } from "node:child_process";
import fs from "node:fs";
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
  renameSync,
  appendFileSync,
} from "node:fs";
import * as fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { ulid } from "ulid";
import { sha256Hex } from "@greentic/deploy-spec";
import { LocalFsStore } from "@greentic/environment-store";
import { median, report, timeRuns } from "../../../bench/lib.ts";
import { bigEnvironment, syntheticEvent } from "../../../bench/big-env.ts";

const root = mkdtempSync(join(tmpdir(), "gt-store-bench-"));
const worker = resolve(import.meta.dirname, "../test/fixtures/store-worker.ts");
const env = (id: string) => ({
  schema: "greentic.environment.v1" as const,
  environment_id: id,
  name: id,
  host_config: { env_id: id },
  packs: [],
});

// The baseline (issue 15): per iteration exactly write + fsync + rename + fsync of the
// directory, the cost of one durable atomic replace, in a directory of the same file system
// as the store's. A store mutation that changes the environment fsyncs twice (its commit
// record and the commits directory, see commit.ts); `countSyncs` counts them.
function rawLoop(dir: string, n: number): void {
  const file = join(dir, "raw.json");
  const body = JSON.stringify(env("raw"), null, 2);
  for (let i = 0; i < n; i++) {
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, "w");
    writeFileSync(fd, `${body}${i}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
    const dirFd = openSync(dir, "r");
    fsyncSync(dirFd);
    closeSync(dirFd);
  }
}

/**
 * Counts every fsync and fdatasync the process asks for while `fn` runs: the promise API's
 * FileHandle.sync/datasync and the callback and sync forms of fs.fsync/fdatasync, wrapped in
 * place (a real counter, not an estimate from the code).
 */
async function countSyncs(fn: () => Promise<void>): Promise<number> {
  const probe = await fsp.open(join(root, ".probe"), "w");
  const handleProto = Object.getPrototypeOf(probe) as Record<string, (...a: unknown[]) => unknown>;
  await probe.close();
  const fsMod = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const targets: [Record<string, (...a: unknown[]) => unknown>, string][] = [
    [handleProto, "sync"],
    [handleProto, "datasync"],
    [fsMod, "fsync"],
    [fsMod, "fdatasync"],
    [fsMod, "fsyncSync"],
    [fsMod, "fdatasyncSync"],
  ];
  let count = 0;
  const saved = targets.map(([obj, key]) => obj[key]!);
  targets.forEach(([obj, key], n) => {
    obj[key] = function (this: unknown, ...args: unknown[]) {
      count++;
      return saved[n]!.apply(this, args);
    };
  });
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    targets.forEach(([obj, key], n) => {
      obj[key] = saved[n]!;
    });
    syncBuiltinESMExports();
  }
  return count;
}

function runWorker(args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [worker, ...args], { stdio: ["ignore", "ignore", "inherit"] });
    child.on("close", (code) => (code === 0 ? done() : fail(new Error(`worker exited ${code}`))));
  });
}

try {
  const store = new LocalFsStore({ root });
  await store.transact("one", () => ({ environment: env("one") as never, result: null }), {
    noun: "env",
    verb: "create",
    create: true,
  });
  await store.transact("shared", () => ({ environment: env("shared") as never, result: null }), {
    noun: "env",
    verb: "create",
    create: true,
  });

  // Raw loop and transact alternate, batch by batch, in the same directory tree (so the
  // same file system and the same moment's disk), and the order flips every round so a slow
  // spell on the shared disk does not land on one side only. OP_BENCH_RUNS sets the rounds.
  const OPS = 100;
  const ROUNDS = Number(process.env.OP_BENCH_RUNS ?? 9);
  const rawDir = join(root, "raw");
  mkdirSync(rawDir);
  let i = 0;
  const transactBatch = async (n: number): Promise<void> => {
    for (let k = 0; k < n; k++) {
      const name = `n${i++}`;
      await store.transact("one", (c) => ({ environment: { ...c!, name }, result: null }), {
        noun: "env",
        verb: "update",
      });
    }
  };
  rawLoop(rawDir, OPS);
  await transactBatch(OPS);
  const raw: number[] = [];
  const single: number[] = [];
  const ratios: number[] = [];
  const timeBatch = async (fn: () => unknown): Promise<number> => {
    const start = performance.now();
    await fn();
    return (performance.now() - start) / OPS;
  };
  for (let round = 0; round < ROUNDS; round++) {
    let r: number;
    let t: number;
    if (round % 2 === 0) {
      r = await timeBatch(() => rawLoop(rawDir, OPS));
      t = await timeBatch(() => transactBatch(OPS));
    } else {
      t = await timeBatch(() => transactBatch(OPS));
      r = await timeBatch(() => rawLoop(rawDir, OPS));
    }
    raw.push(r);
    single.push(t);
    ratios.push(t / r);
  }
  const COUNTED = 50;
  const syncsPerMutation = (await countSyncs(() => transactBatch(COUNTED))) / COUNTED;
  const syncsPerRaw = (await countSyncs(async () => rawLoop(rawDir, COUNTED))) / COUNTED;
  const PROCS = 8;
  const PER = 25;
  const contended = (
    await timeRuns(
      () =>
        Promise.all(Array.from({ length: PROCS }, () => runWorker(["mutate", root, "shared", String(PER), "10000"]))),
      3,
      0,
    )
  ).map((ms) => ms / (PROCS * PER));
  const rawMs = median(raw);
  report("environment-store mutations", "raw write+fsync+rename+dir-fsync", [
    {
      name: "raw write+fsync+rename+dir-fsync",
      median: rawMs,
      unit: "ms/op",
      ratio: 1,
      runs: raw.length,
      note: `${OPS} ops a run; ${syncsPerRaw} fsyncs/op counted`,
    },
    {
      name: "transact, 1 writer",
      median: median(single),
      unit: "ms/op",
      ratio: median(single) / rawMs,
      runs: single.length,
      note: `${(1000 / median(single)).toFixed(0)} mutations/s; median of per-round ratios ${median(ratios).toFixed(2)}x; ${syncsPerMutation} fsyncs/mutation counted`,
    },
    {
      name: `transact, ${PROCS} processes contending`,
      median: median(contended),
      unit: "ms/op",
      ratio: median(contended) / rawMs,
      runs: contended.length,
      note: `${(1000 / median(contended)).toFixed(0)} mutations/s aggregate, incl. process start`,
    },
  ]);

  // A big environment: 1 000 revisions in the document, 1 000 backups' worth of history, 100 000 audit events.
  await store.transact("big", () => ({ environment: bigEnvironment("big", ulid) as never, result: null }), {
    noun: "env",
    verb: "create",
    create: true,
  });
  // Synthesise a chained 100 000-event log (appending through transact would take minutes).
  const auditDir = join(root, "big", "audit");
  const existing = (await store.listAudit("big")).length;
  let prev = sha256Hex(
    (await import("node:fs")).readFileSync(join(auditDir, "events.jsonl"), "utf8").trimEnd().split("\n").at(-1)!,
  );
  const chunk: string[] = [];
  for (let n = existing; n < 100_000; n++) {
    const line = JSON.stringify(syntheticEvent("big", n, prev, ulid));
    prev = sha256Hex(line);
    chunk.push(line);
  }
  appendFileSync(join(auditDir, "events.jsonl"), `${chunk.join("\n")}\n`);
  writeFileSync(
    join(auditDir, "head.json"),
    `${JSON.stringify({ schema: "greentic.audit-head.v1", last_hash: prev, lines: 100_000 })}\n`,
  );

  const load = await timeRuns(() => store.load("big"), 10);
  const list = await timeRuns(() => store.list(), 10);
  const mutate = await timeRuns(
    () =>
      store.transact("big", (c) => ({ environment: { ...c!, name: `big-${ulid()}` }, result: null }), {
        noun: "env",
        verb: "update",
      }),
    5,
  );
  const filtered = await timeRuns(() => store.listAudit("big", { noun: "traffic", verb: "set" }), 5);
  const sinceLimit = await timeRuns(() => store.listAudit("big", { since: "2026-01-02T03:00:00Z", limit: 100 }), 5);
  const verify = await timeRuns(() => store.verifyAudit("big"), 3);
  const matches = (await store.listAudit("big", { noun: "traffic", verb: "set" })).length;
  report("environment-store reads on 1 000 revisions + 100 000 audit events", undefined, [
    { name: "load (parse + schema + cross-refs)", median: median(load), unit: "ms", runs: load.length },
    { name: "list (4 environments)", median: median(list), unit: "ms", runs: list.length },
    { name: "transact on the big env (O(1) audit append)", median: median(mutate), unit: "ms", runs: mutate.length },
    {
      name: "listAudit noun+verb filter",
      median: median(filtered),
      unit: "ms",
      runs: filtered.length,
      note: `${matches} of 100000 match`,
    },
    { name: "listAudit since + limit 100", median: median(sinceLimit), unit: "ms", runs: sinceLimit.length },
    { name: "verifyAudit (full chain)", median: median(verify), unit: "ms", runs: verify.length },
  ]);
  void performance;
} finally {
  rmSync(root, { recursive: true, force: true });
}
