// The PostgreSQL store against the local filesystem store, side by side in one run, on a
// private cluster over loopback (fsync on). Baseline: a bare `SELECT 1` round trip. Run with
// `pnpm bench postgres` (builds first).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { ulid } from "ulid";
import { sha256Hex } from "@greentic/deploy-spec";
import { LocalFsStore, type EnvironmentStore } from "@greentic/environment-store";
import { PostgresStore } from "@greentic/environment-store-postgres";
import { median, report, timeRuns } from "../../../bench/lib.ts";
import { startPgCluster } from "../../../scripts/test-support/pg-cluster.ts";
import { bigEnvironment, syntheticEvent } from "../../../bench/big-env.ts";

const env = (id: string) => ({
  schema: "greentic.environment.v1" as const,
  environment_id: id,
  name: id,
  host_config: { env_id: id },
  packs: [],
});
/** Runs each case once to warm up, then `rounds` times in turn (reversed every other round); each case's times in ms. */
async function alternate(cases: (() => Promise<unknown>)[], rounds: number): Promise<number[][]> {
  for (const c of cases) await c();
  const times = cases.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    const order = cases.map((_, k) => k);
    if (r % 2 === 1) order.reverse();
    for (const k of order) {
      const start = performance.now();
      await cases[k]!();
      times[k]!.push(performance.now() - start);
    }
  }
  return times;
}

const mk = { noun: "env", verb: "create", create: true } as const;
const upd = { noun: "env", verb: "update" } as const;

// fsync on, as in production: the local store's mutations fsync too.
const cluster = await startPgCluster({ durable: true });
const root = mkdtempSync(join(tmpdir(), "gt-pg-bench-"));
const stores: PostgresStore[] = [];
try {
  cluster.psql("CREATE DATABASE bench");
  const url = cluster.urlFor("postgres", { database: "bench" });
  const owner = new PostgresStore({ url });
  await owner.migrateSchema();
  stores.push(owner);
  const local = new LocalFsStore({ root });
  const shared: EnvironmentStore = owner;
  for (const s of [local, shared]) {
    await s.transact("one", () => ({ environment: env("one") as never, result: null }), mk);
    await s.transact("shared", () => ({ environment: env("shared") as never, result: null }), mk);
  }

  const OPS = 50;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const select1 = (
    await timeRuns(async () => {
      for (let k = 0; k < OPS; k++) await client.query("SELECT 1");
    }, 5)
  ).map((ms) => ms / OPS);
  await client.end();
  let i = 0;
  const mutations = async (s: EnvironmentStore, id: string, n: number) => {
    for (let k = 0; k < n; k++) {
      const name = `n${i++}`;
      await s.transact(id, (c) => ({ environment: { ...c!, name }, result: null }), upd);
    }
  };
  // The two stores alternate batch by batch, the order flipped every round, so a slow spell on
  // the shared machine falls on both. OP_BENCH_RUNS sets the rounds.
  const ROUNDS = Number(process.env.OP_BENCH_RUNS ?? 7);
  const [localOne, pgOne] = (
    await alternate([() => mutations(local, "one", OPS), () => mutations(shared, "one", OPS)], ROUNDS)
  ).map((runs) => runs.map((ms) => ms / OPS)) as [number[], number[]];
  // 8 writers, each with its own connection pool (as 8 operators would have), on one environment.
  const WRITERS = 8;
  const PER = 10;
  for (let w = 0; w < WRITERS; w++) stores.push(new PostgresStore({ url }));
  const pgEight = (await timeRuns(() => Promise.all(stores.slice(1).map((s) => mutations(s, "shared", PER))), 5)).map(
    (ms) => ms / (WRITERS * PER),
  );
  const base = median(select1);
  const localMs = median(localOne);
  const pgMs = median(pgOne);
  report("postgres store mutations (loopback)", "SELECT 1 round trip", [
    { name: "SELECT 1 round trip", median: base, unit: "ms/op", ratio: 1, runs: select1.length },
    {
      name: "local store transact, 1 writer",
      median: localMs,
      unit: "ms/op",
      ratio: localMs / base,
      runs: localOne.length,
    },
    {
      name: "postgres transact, 1 writer",
      median: pgMs,
      unit: "ms/op",
      ratio: pgMs / base,
      runs: pgOne.length,
      note: `${(pgMs / localMs).toFixed(2)}x the local store; ${(1000 / pgMs).toFixed(0)} mutations/s`,
    },
    {
      name: `postgres transact, ${WRITERS} writers contending`,
      median: median(pgEight),
      unit: "ms/op",
      ratio: median(pgEight) / base,
      runs: pgEight.length,
      note: `${(1000 / median(pgEight)).toFixed(0)} mutations/s aggregate, ${(pgMs / median(pgEight)).toFixed(2)}x one writer's throughput`,
    },
  ]);

  // A big environment in both: 1 000 revisions in the document, 100 000 audit events.
  for (const s of [local, shared])
    await s.transact("big", () => ({ environment: bigEnvironment("big", ulid) as never, result: null }), mk);
  // 100 000 chained events, written in bulk (appending through transact would take minutes):
  // to the local store's log file, and as rows of the same stream in PostgreSQL.
  const { appendFileSync, readFileSync, writeFileSync } = await import("node:fs");
  const auditDir = join(root, "big", "audit");
  let prevLocal = sha256Hex(readFileSync(join(auditDir, "events.jsonl"), "utf8").trimEnd().split("\n").at(-1)!);
  const head = (await owner.listAudit("big")).at(-1)!;
  let prevPg = sha256Hex(JSON.stringify(head));
  const line = (n: number, prev: string) => JSON.stringify(syntheticEvent("big", n, prev, ulid));
  const localLines: string[] = [];
  for (let n = 1; n < 100_000; n++) {
    const l = line(n, prevLocal);
    prevLocal = sha256Hex(l);
    localLines.push(l);
  }
  appendFileSync(join(auditDir, "events.jsonl"), `${localLines.join("\n")}\n`);
  writeFileSync(
    join(auditDir, "head.json"),
    `${JSON.stringify({ schema: "greentic.audit-head.v1", last_hash: prevLocal, lines: 100_000 })}\n`,
  );
  const bulk = new pg.Client({ connectionString: url });
  await bulk.connect();
  const stream = (await bulk.query("SELECT stream FROM greentic.environments WHERE env_id = 'big'")).rows[0].stream;
  for (let start = 2; start <= 100_000; start += 5000) {
    const seqs: number[] = [];
    const ids: string[] = [];
    const nouns: string[] = [];
    const verbs: string[] = [];
    const users: string[] = [];
    const lines: string[] = [];
    for (let seq = start; seq < Math.min(start + 5000, 100_001); seq++) {
      const event = syntheticEvent("big", seq, prevPg, ulid);
      const l = JSON.stringify(event);
      prevPg = sha256Hex(l);
      seqs.push(seq);
      ids.push(event.event_id);
      nouns.push(event.noun);
      verbs.push(event.verb);
      users.push(event.actor.user);
      lines.push(l);
    }
    await bulk.query(
      `INSERT INTO greentic.audit_events (stream, seq, env_id, event_id, ts, noun, verb, actor_user, line)
       SELECT $1, s, 'big', e, now(), n, v, u, l
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS t(s, e, n, v, u, l)`,
      [stream, seqs, ids, nouns, verbs, users, lines],
    );
  }
  await bulk.query("UPDATE greentic.environments SET audit_lines = 100000, audit_head = $1 WHERE env_id = 'big'", [
    prevPg,
  ]);
  await bulk.end();

  const rows = [];
  for (const [what, fn] of [
    ["load", (s: EnvironmentStore) => s.load("big")],
    ["list", (s: EnvironmentStore) => s.list()],
  ] as const) {
    const [l, p] = (await alternate([() => fn(local), () => fn(shared)], 10)) as [number[], number[]];
    rows.push({ name: `local store ${what}`, median: median(l), unit: "ms", ratio: 1, runs: l.length });
    rows.push({
      name: `postgres ${what}`,
      median: median(p),
      unit: "ms",
      ratio: median(p) / median(l),
      runs: p.length,
    });
  }
  report("postgres store reads on 1 000 revisions + 100 000 audit events", "the local store, per row pair", rows);
} finally {
  await Promise.all(stores.map((s) => s.close().catch(() => {})));
  cluster.stop();
  rmSync(root, { recursive: true, force: true });
}
