import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pauseCluster, pgSkip, startPgCluster, type PgCluster } from "../../../scripts/test-support/pg-cluster.ts";
import { referenceAuditLine, unboundDeployments } from "../../../scripts/test-support/unbound-routes.ts";
import { BIN, ensureBuilt } from "./helpers.js";

// The PostgreSQL store through the real `op` binary: a private cluster, two operator
// "machines" (two GREENTIC_HOMEs, processes started side by side), the schema migrated by its
// owner and every mutation run by a login role that is only a member of greentic_op.

// CI runs a small share of the acceptance sizes (8 × 50 mutations, 50 kills); set these to
// run the full ones.
const EACH = Number(process.env.GREENTIC_PG_E2E_EACH ?? 3);
const KILLS = Number(process.env.GREENTIC_PG_E2E_KILLS ?? 3);

const why = pgSkip();

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let cluster: PgCluster;
let admin: string;
let operator: string;
let homes: [string, string];

function op(args: string[], env: Record<string, string> = {}, home = homes[0]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, GREENTIC_HOME: home, GREENTIC_STORE_URL: operator, NO_COLOR: "1", GREENTIC_ENV: "", ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function opAsync(args: string[], home: string): Promise<Run & { pid: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, GREENTIC_HOME: home, GREENTIC_STORE_URL: operator, NO_COLOR: "1", GREENTIC_ENV: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr, pid: child.pid! }));
  });
}

function json<T = Record<string, unknown>>(r: Run): T {
  return JSON.parse(r.stdout).result as T;
}

function jsonError(r: Run): { kind: string; message: string; hint?: string } {
  return JSON.parse(r.stderr).error;
}

describe.skipIf(why !== undefined)("op on a PostgreSQL store", { timeout: 240_000 + 12_000 * (EACH + KILLS) }, () => {
  beforeAll(async () => {
    ensureBuilt();
    cluster = await startPgCluster();
    cluster.psql("CREATE DATABASE greentic");
    cluster.psql("CREATE ROLE greentic_op NOLOGIN");
    cluster.psql("CREATE ROLE alice LOGIN IN ROLE greentic_op");
    admin = cluster.urlFor("postgres", { database: "greentic" });
    operator = cluster.urlFor("alice", { database: "greentic" });
    homes = [mkdtempSync(join(tmpdir(), "op-pg-a-")), mkdtempSync(join(tmpdir(), "op-pg-b-"))];
  });
  afterAll(() => {
    cluster?.stop();
    for (const h of homes ?? []) rmSync(h, { recursive: true, force: true });
  });

  it("bad input: other schemes, malformed URLs and two stores exit 2, naming the source, without the password", () => {
    const cases: [string[], Record<string, string>, string][] = [
      [["env", "list", "--store", "mysql://u:pw1@h/db"], {}, "--store mysql://u:***@h/db has the scheme mysql"],
      [["env", "list"], { GREENTIC_STORE_URL: "ftp://h/x" }, "GREENTIC_STORE_URL ftp://h/x has the scheme ftp"],
      [["env", "list", "--store", "postgres://u:pw1@h:70000/db"], {}, "is not a URL"],
      [["env", "list", "--store", "::nonsense"], {}, '--store "::nonsense" is not a URL'],
      [["env", "list", "--store", "postgres://u:pw1@h:5432"], {}, "names no database"],
      [
        ["env", "list", "--store", operator, "--store-root", "/tmp/x"],
        {},
        "--store and --store-root name two different stores",
      ],
    ];
    for (const [args, env, words] of cases) {
      const r = op([...args, "--json"], env);
      expect(r.status, args.join(" ")).toBe(2);
      const e = jsonError(r);
      expect(e.kind).toBe("invalid-argument");
      expect(e.message).toContain(words);
      expect(e.hint).toBeTruthy();
      expect(r.stderr).not.toContain("pw1");
    }
    // Human mode names the flag too.
    const human = op(["env", "list", "--store", "http://x/y"]);
    expect(human.status).toBe(2);
    expect(human.stderr).toContain("Error: --store http://x/y has the scheme http");
  });

  it("an unmigrated database is exit 1 naming the command to run; the operator role cannot migrate; the owner can", () => {
    const before = op(["env", "list", "--json"]);
    expect(before.status).toBe(1);
    expect(jsonError(before).message).toContain("has no greentic schema yet");
    expect(jsonError(before).hint).toContain("op store migrate-schema");
    const byOperator = op(["store", "migrate-schema", "--json"]);
    expect(byOperator.status).toBe(5);
    expect(jsonError(byOperator).kind).toBe("unauthorized");
    const local = op(["store", "migrate-schema", "--json"], { GREENTIC_STORE_URL: "" });
    expect(local.status).toBe(2);
    expect(jsonError(local).message).toContain("the local store has no schema");
    const migrated = op(["store", "migrate-schema", "--store", admin, "--json"]);
    expect(migrated.status).toBe(0);
    expect(json(migrated)).toMatchObject({ from_version: 0, to_version: 1, applied: [{ version: 1 }] });
    expect(json(op(["store", "migrate-schema", "--store", admin, "--json"]))).toMatchObject({ applied: [] });
    expect(op(["env", "init", "--json"]).status).toBe(0);
  });

  it("two machines, 8 processes: every mutation lands, generations are contiguous, the chain verifies, a key replays across machines", async () => {
    const start = json<{ generation: number }>(op(["env", "show", "local", "--json"])).generation;
    const writers = 8;
    const each = EACH;
    const runs = await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const out: Run[] = [];
        for (let i = 0; i < each; i++)
          out.push(
            await opAsync(
              ["env", "update", "local", "--region", `r-${w}-${i}`, "--idempotency-key", `k-${w}-${i}`, "--json"],
              homes[w % 2]!,
            ),
          );
        return out;
      }),
    );
    const flat = runs.flat();
    expect(flat.filter((r) => r.status !== 0).map((r) => r.stderr)).toEqual([]);
    const generations = flat.map((r) => json<{ generation: number }>(r).generation).sort((a, b) => a - b);
    expect(generations).toEqual(Array.from({ length: writers * each }, (_, i) => start + 1 + i));
    const verify = op(["audit", "verify", "local", "--json"]);
    expect(verify.status).toBe(0);
    const audit = json<{ ok: boolean; lines: number }>(verify);
    expect(audit.ok).toBe(true);
    expect(audit.lines).toBeGreaterThanOrEqual(writers * each + 1);
    // The same key, retried from the other machine, replays the first result.
    const first = flat[0]!;
    const replay = op(
      ["env", "update", "local", "--region", "r-0-0", "--idempotency-key", "k-0-0", "--json"],
      {},
      homes[1],
    );
    expect(replay.status).toBe(0);
    expect(json(replay)).toEqual({ ...json(first), idempotency: "replayed" });
    expect(json<{ generation: number }>(op(["env", "show", "local", "--json"])).generation).toBe(
      start + writers * each,
    );
  });

  it("a client killed with SIGKILL while it holds the lock mid-mutation: nothing partial, the lock goes, the next writer proceeds", async () => {
    const blocker = new pg.Client({ connectionString: admin });
    blocker.on("error", () => {});
    await blocker.connect();
    try {
      for (let round = 0; round < KILLS; round++) {
        const before = json<{ generation: number; etag: string }>(op(["env", "show", "local", "--json"]));
        // Hold the audit table so that the writer stops inside its transaction, after it took
        // the environment's lock and wrote the new document, before its audit event.
        await blocker.query("BEGIN");
        await blocker.query("LOCK TABLE greentic.audit_events IN EXCLUSIVE MODE");
        const child = spawn(process.execPath, [BIN, "env", "update", "local", "--region", `killed-${round}`], {
          env: { ...process.env, GREENTIC_HOME: homes[0], GREENTIC_STORE_URL: operator, GREENTIC_ENV: "" },
          stdio: "ignore",
        });
        let holder: Record<string, unknown> | null = null;
        for (let i = 0; i < 100 && holder === null; i++) {
          holder = json<{ lock: Record<string, unknown> | null }>(
            op(["env", "lock", "local", "--json"], {}, homes[1]),
          ).lock;
          if (holder === null) await new Promise((r) => setTimeout(r, 100));
        }
        expect(holder).toMatchObject({ pid: child.pid, operation: "env update", user: "alice" });
        const exited = new Promise((r) => child.on("exit", r));
        process.kill(child.pid!, "SIGKILL");
        await exited;
        await blocker.query("COMMIT");
        const t0 = Date.now();
        const next = op(["env", "update", "local", "--region", `next-${round}`, "--json"], {}, homes[1]);
        expect(next.status, next.stderr).toBe(0);
        expect(Date.now() - t0).toBeLessThan(15_000);
        expect(json<{ generation: number }>(next).generation).toBe(before.generation + 1);
        const after = json<{ environment: { host_config: { region?: string } } }>(
          op(["env", "show", "local", "--json"]),
        );
        expect(JSON.stringify(after)).not.toContain(`killed-${round}`);
      }
    } finally {
      await blocker.end();
    }
    expect(json<{ ok: boolean }>(op(["audit", "verify", "local", "--json"])).ok).toBe(true);
  });

  it("pg_terminate_backend mid-commit, then a retry with the same key: exactly one change", async () => {
    const blocker = new pg.Client({ connectionString: admin });
    blocker.on("error", () => {});
    await blocker.connect();
    const before = json<{ generation: number }>(op(["env", "show", "local", "--json"])).generation;
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE greentic.audit_events IN EXCLUSIVE MODE");
    const pending = opAsync(
      ["env", "update", "local", "--region", "terminated", "--idempotency-key", "term-1", "--json"],
      homes[0],
    );
    // Watched from another session: pg_stat_activity is one snapshot per transaction.
    const watcher = new pg.Client({ connectionString: admin });
    await watcher.connect();
    let backend: number | undefined;
    for (let i = 0; i < 600 && backend === undefined; i++) {
      const r = await watcher.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE usename = 'alice' AND application_name LIKE 'op/%' AND wait_event_type = 'Lock'",
      );
      backend = r.rows[0]?.pid;
      if (backend === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    await watcher.end();
    expect(backend).toBeDefined();
    await blocker.query("SELECT pg_terminate_backend($1)", [backend]);
    await blocker.query("COMMIT");
    await blocker.end();
    const failed = await pending;
    expect(failed.status).toBe(1);
    expect(jsonError(failed).kind).toBe("io");
    expect(jsonError(failed).hint).toContain("same --idempotency-key");
    const retry = op(["env", "update", "local", "--region", "terminated", "--idempotency-key", "term-1", "--json"]);
    expect(retry.status).toBe(0);
    expect(json<{ generation: number }>(retry).generation).toBe(before + 1);
    const again = op(["env", "update", "local", "--region", "terminated", "--idempotency-key", "term-1", "--json"]);
    expect(json<{ generation: number }>(again).generation).toBe(before + 1);
    expect(json<{ generation: number }>(op(["env", "show", "local", "--json"])).generation).toBe(before + 1);
  });

  it("PostgreSQL stopped: exit 1 naming the URL without the password, nothing half-written; after a restart work resumes", () => {
    const withPassword = operator.replace("alice@", "alice:s3cret@");
    const before = json<{ generation: number }>(op(["env", "show", "local", "--json"])).generation;
    pauseCluster(cluster);
    try {
      const down = op(["env", "update", "local", "--region", "while-down", "--json"], {
        GREENTIC_STORE_URL: withPassword,
      });
      expect(down.status).toBe(1);
      const e = jsonError(down);
      expect(e.kind).toBe("io");
      expect(e.message).toContain(
        `cannot reach the PostgreSQL store at postgres://alice:***@127.0.0.1:${cluster.port}/greentic`,
      );
      expect(down.stderr + down.stdout).not.toContain("s3cret");
      const human = op(["env", "list"], { GREENTIC_STORE_URL: withPassword });
      expect(human.status).toBe(1);
      expect(human.stderr).toContain("cannot reach the PostgreSQL store");
      expect(human.stderr).not.toContain("s3cret");
    } finally {
      cluster.start();
    }
    const after = op(["env", "update", "local", "--region", "after-restart", "--json"]);
    expect(after.status, after.stderr).toBe(0);
    expect(json<{ generation: number }>(after).generation).toBe(before + 1);
    expect(json<{ ok: boolean }>(op(["audit", "verify", "local", "--json"])).ok).toBe(true);
  });

  it("a database newer than op is refused with exit 3, and nothing is written", () => {
    const before = op(["env", "show", "local", "--json"]).stdout;
    cluster.psql(
      "INSERT INTO greentic.schema_version (version, description) VALUES (2, 'from a newer op')",
      "greentic",
    );
    try {
      const r = op(["env", "update", "local", "--region", "old-op", "--json"]);
      expect(r.status).toBe(3);
      expect(jsonError(r).message).toContain("schema version 2, newer than this op knows (1)");
      expect(op(["store", "migrate-schema", "--store", admin, "--json"]).status).toBe(3);
    } finally {
      cluster.psql("DELETE FROM greentic.schema_version WHERE version = 2", "greentic");
    }
    expect(op(["env", "show", "local", "--json"]).stdout).toBe(before);
  });

  it("op store copy: a local store arrives with its etag, audit chain and backups; never overwrites; refuses a damaged source", () => {
    const local = mkdtempSync(join(tmpdir(), "op-pg-local-"));
    const root = join(local, "environments");
    const lop = (args: string[]) => op([...args, "--store-root", root, "--json"], { GREENTIC_STORE_URL: "" }, local);
    try {
      expect(lop(["env", "init", "copied"]).status).toBe(0);
      for (const region of ["a", "b"]) expect(lop(["env", "update", "copied", "--region", region]).status).toBe(0);
      const source = json<{ etag: string; generation: number }>(lop(["env", "show", "copied"]));
      const sourceAudit = json<{ events: unknown[] }>(lop(["audit", "list", "copied"]));
      const sourceBackups = json<{ backups: { backup_id: string }[] }>(lop(["env", "backups", "copied"]));
      const copy = op(["store", "copy", "--from", root, "--to", operator, "--json"]);
      expect(copy.status, copy.stderr).toBe(0);
      expect(json(copy)).toMatchObject({
        copied: [{ environment_id: "copied", generation: 3, etag: source.etag, audit_events: 3, backups: 2 }],
      });
      const arrived = json<{ etag: string; generation: number }>(op(["env", "show", "copied", "--json"]));
      expect([arrived.etag, arrived.generation]).toEqual([source.etag, source.generation]);
      expect(json(op(["audit", "list", "copied", "--json"]))).toEqual(sourceAudit);
      expect(
        json<{ backups: { backup_id: string }[] }>(op(["env", "backups", "copied", "--json"])).backups.map(
          (b) => b.backup_id,
        ),
      ).toEqual(sourceBackups.backups.map((b) => b.backup_id));
      expect(json<{ ok: boolean; lines: number }>(op(["audit", "verify", "copied", "--json"]))).toEqual({
        environment_id: "copied",
        ok: true,
        lines: 3,
      });
      // Never overwrites: a second copy is exit 3 and leaves the copy as it was.
      const again = op(["store", "copy", "--from", root, "--to", operator, "--json"]);
      expect(again.status).toBe(3);
      expect(jsonError(again).message).toContain("copied already exists in");
      expect(json<{ generation: number }>(op(["env", "show", "copied", "--json"])).generation).toBe(3);
      // Bad input.
      const missing = op(["store", "copy", "--from", join(local, "nope"), "--to", operator, "--json"]);
      expect([missing.status, jsonError(missing).kind]).toEqual([4, "not-found"]);
      const scheme = op(["store", "copy", "--from", root, "--to", "mysql://u:pw9@h/db", "--json"]);
      expect(scheme.status).toBe(2);
      expect(jsonError(scheme).message).toContain("--to mysql://u:***@h/db has the scheme mysql");
      // A source whose audit log was edited by hand does not move.
      expect(lop(["env", "init", "damaged"]).status).toBe(0);
      expect(lop(["env", "update", "damaged", "--region", "x"]).status).toBe(0);
      const log = join(root, "damaged", "audit", "events.jsonl");
      writeFileSync(log, readFileSync(log, "utf8").replace('"verb":"init"', '"verb":"edit"'));
      const damaged = op(["store", "copy", "--from", root, "--to", operator, "--env", "damaged", "--json"]);
      expect(damaged.status).toBe(1);
      expect(jsonError(damaged).kind).toBe("integrity");
      expect(op(["env", "show", "damaged", "--json"]).status).toBe(4);
      // Nor does one that another writer (the Rust reference, which shares the local store) left
      // with two deployments with traffic and no route binding: op never writes that state.
      expect(lop(["env", "init", "routed"]).status).toBe(0);
      const routedDir = join(root, "routed");
      const routedDoc = JSON.parse(readFileSync(join(routedDir, "environment.json"), "utf8"));
      const [a, b] = ["01JTKW5B4W4Q5Y1CQW93F7SA00", "01JTKW5B4W4Q5Y1CQW93F7SB00"];
      const served = unboundDeployments(
        "routed",
        [
          [a, "hello"],
          [b, "shop"],
        ],
        [a, b],
      );
      writeFileSync(join(routedDir, "environment.json"), `${JSON.stringify({ ...routedDoc, ...served }, null, 2)}\n`);
      appendFileSync(
        join(routedDir, "audit", "events.jsonl"),
        referenceAuditLine("routed", "traffic", "set", { deployment_id: b }),
      );
      expect(lop(["env", "show", "routed"]).status).toBe(0);
      const routed = op(["store", "copy", "--from", root, "--to", operator, "--env", "routed", "--json"]);
      expect(routed.status, routed.stderr).toBe(3);
      expect(jsonError(routed)).toEqual({
        kind: "conflict",
        message: `environment routed in ${root}: deployment ${a} (bundle hello) and deployment ${b} (bundle shop) would both have traffic and both claim any host and path prefix / (\`route_binding\` {"hosts":[],"path_prefixes":[]} each): the environment URL could only answer 421 to those requests; op store copy does not write that state, and nothing was copied`,
        path: "route_binding",
        hint: `give deployment ${a} (or ${b}) a host or path prefix of its own first: \`op bundles update routed --answers FILE\` with FILE holding \`deployment_id: ${a}\` and \`route_binding: {hosts: [], path_prefixes: [/PREFIX]}\` (or \`hosts: [HOST]\`); run it against the local store (--store-root ${root}), then copy again`,
        details: { code: "route-collision", deployment_id: a, other_deployment_id: b, host: null, path_prefix: "/" },
      });
      expect(op(["env", "show", "routed", "--json"]).status).toBe(4);
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });
});
