import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { GreenticError } from "@greentic/deploy-spec";
import { PostgresStore, SCHEMA_VERSION, parseStoreUrl } from "../src/index.js";
import { pauseCluster } from "../../../scripts/test-support/pg-cluster.ts";
import { create, freshDatabase, migrated, pgSkip, rejects, rename, startPgCluster, type PgCluster } from "./helpers.js";

// What is PostgreSQL's own: URLs, schema versions, the least-privilege role, advisory locks
// released with the connection, and a server that goes away.

const skip = pgSkip();
const mk = { noun: "env", verb: "create", create: true } as const;
const upd = { noun: "env", verb: "update" } as const;

describe("store URLs", () => {
  it.each([
    ["mysql://u@h/db", "has the scheme mysql; only postgres:// (or postgresql://) stores are supported"],
    ["file:///tmp/x", "has the scheme file"],
    ["not a url", "is not a URL"],
    ["postgres:///db", "names no host"],
    ["postgres://h:99999/db", "is not a URL"],
    ["postgres://u:secret@h:5432", "names no database"],
  ])("%s is invalid-argument", (value, words) => {
    let error: unknown;
    try {
      parseStoreUrl(value, "GREENTIC_STORE_URL");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GreenticError);
    const e = error as GreenticError;
    expect(e.kind).toBe("invalid-argument");
    expect(e.message).toContain("GREENTIC_STORE_URL");
    expect(e.message).toContain(words);
    expect(e.hint).toBeTruthy();
    expect(JSON.stringify(e.toJSON())).not.toContain("secret");
  });

  it("keeps the URL for the driver and shows it without the password", () => {
    const loc = parseStoreUrl("postgresql://op:s3cr%40t@db.example:6432/greentic?sslmode=verify-full");
    expect(loc.redacted).toBe("postgresql://op:***@db.example:6432/greentic?sslmode=verify-full");
    expect(loc.password).toBe("s3cr@t");
    expect(parseStoreUrl("postgres:///greentic?host=/run/postgresql").redacted).toBe(
      "postgres:///greentic?host=/run/postgresql",
    );
  });
});

describe.skipIf(skip !== undefined)("PostgreSQL store", () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(() => cluster?.stop());

  it("refuses an unmigrated database, migrates once, and refuses a newer one", async () => {
    const db = freshDatabase(cluster);
    const op = new PostgresStore({ url: db.operator });
    const none = await rejects(op.list());
    expect(none.kind).toBe("io");
    expect(none.message).toContain("has no greentic schema yet");
    expect(none.hint).toContain("op store migrate-schema");
    // The operator role cannot migrate: it owns no schema and may create none.
    const denied = await rejects(op.migrateSchema());
    expect(denied.kind).toBe("unauthorized");
    await op.close();
    const admin = new PostgresStore({ url: db.admin });
    expect(await admin.migrateSchema()).toEqual({
      from_version: 0,
      to_version: SCHEMA_VERSION,
      applied: [{ version: 1, description: expect.any(String) }],
    });
    expect(await admin.migrateSchema()).toEqual({ from_version: 1, to_version: 1, applied: [] });
    cluster.psql("INSERT INTO greentic.schema_version (version, description) VALUES (99, 'from the future')", db.name);
    const newer = await rejects(admin.migrateSchema());
    expect(newer.kind).toBe("conflict");
    expect(newer.message).toContain("schema version 99, newer than this op knows (1)");
    await admin.close();
    const op2 = new PostgresStore({ url: db.operator });
    expect((await rejects(op2.list())).kind).toBe("conflict");
    await op2.close();
  });

  it("the operator role reads and writes rows only: no DDL, and the audit log is append-only", async () => {
    const db = await migrated(cluster);
    const store = new PostgresStore({ url: db.operator });
    await store.transact("lp", create("lp"), mk);
    await store.transact("lp", rename("two"), upd);
    await store.close();
    const client = new pg.Client({ connectionString: db.operator });
    await client.connect();
    for (const sql of [
      "CREATE TABLE greentic.x (a int)",
      "DROP TABLE greentic.audit_events",
      "UPDATE greentic.audit_events SET line = '{}'",
      "DELETE FROM greentic.audit_events",
      "INSERT INTO greentic.schema_version (version, description) VALUES (2, 'x')",
    ]) {
      const error = await client.query(sql).then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      expect(error?.code, sql).toBe(sql.startsWith("CREATE") ? "42501" : "42501");
    }
    const owner = await client.query(
      "SELECT tableowner FROM pg_tables WHERE schemaname = 'greentic' AND tablename = 'environments'",
    );
    expect(owner.rows[0].tableowner).toBe("postgres");
    await client.end();
  });

  it("a mutation waits for the advisory lock; env lock shows the holder; a dead client's lock goes with its connection", async () => {
    const db = await migrated(cluster);
    const store = new PostgresStore({ url: db.operator, lockTimeoutMs: 800 });
    await store.transact("lk", create("lk"), mk);
    // Another client takes the lock and holds it (as an op process stopped mid-mutation would).
    const holder = new pg.Client({ connectionString: db.operator, application_name: "op/4242@host-b env update" });
    holder.on("error", () => {});
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("SELECT pg_advisory_xact_lock(1735683952, hashtext('lk'))");
    const info = await store.lockInfo("lk");
    expect(info).toMatchObject({ pid: 4242, host: "host-b", operation: "env update", user: "alice" });
    expect(info?.acquired_at).toMatch(/^\d{4}-\d\d-\d\dT/u);
    const waited: unknown[] = [];
    const s2 = new PostgresStore({ url: db.operator, lockTimeoutMs: 800, onLockWait: (_e, h) => waited.push(h) });
    const locked = await rejects(s2.transact("lk", rename("x"), upd));
    expect(locked.kind).toBe("locked");
    expect(locked.message).toContain("env update on environment lk");
    expect(waited).toEqual([expect.objectContaining({ pid: 4242 })]);
    // The holder dies without a word: the server ends its session and its lock with it.
    const backend = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    cluster.psql(`SELECT pg_terminate_backend(${backend})`);
    await holder.end().catch(() => {});
    const r = await s2.transact("lk", rename("after"), upd);
    expect(r.generation).toBe(2);
    expect(await store.lockInfo("lk")).toBeUndefined();
    await store.close();
    await s2.close();
  });

  it("concurrent writers through separate pools: no lost update, contiguous generations, one verified chain", async () => {
    const db = await migrated(cluster);
    const stores = Array.from({ length: 4 }, () => new PostgresStore({ url: db.operator }));
    await stores[0]!.transact("cc", create("cc"), mk);
    const bump = (store: PostgresStore, i: number) =>
      store.transact(
        "cc",
        (c) => ({
          environment: { ...c!, name: `${c!.name}.${i}` },
          result: i,
        }),
        upd,
      );
    const results = await Promise.all(
      stores.flatMap((s, k) => Array.from({ length: 10 }, (_, j) => bump(s, k * 10 + j))),
    );
    expect(results.map((r) => r.generation).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2));
    const loaded = await stores[0]!.load("cc");
    expect(loaded.generation).toBe(41);
    const applied = loaded.environment.name.split(".").slice(1).map(Number);
    expect(applied.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await stores[1]!.verifyAudit("cc")).toEqual({ ok: true, lines: 41 });
    await Promise.all(stores.map((s) => s.close()));
  });

  it("a denied mutation is audited and changes nothing", async () => {
    const db = await migrated(cluster);
    const store = new PostgresStore({
      url: db.operator,
      authorize: (req) =>
        req.verb === "create"
          ? { decision: "allow", policy: "test", reason: "ok" }
          : { decision: "deny", policy: "test", reason: "read-only" },
    });
    await store.transact("dn", create("dn"), mk);
    const err = await rejects(store.transact("dn", rename("x"), upd));
    expect([err.kind, err.message]).toEqual([
      "unauthorized",
      "env update on environment dn denied by policy test: read-only",
    ]);
    expect((await store.load("dn")).generation).toBe(1);
    expect((await store.listAudit("dn")).map((e) => e.result)).toEqual([
      { outcome: "ok" },
      { outcome: "error", kind: "unauthorized", message: err.message },
    ]);
    expect(await store.verifyAudit("dn")).toEqual({ ok: true, lines: 2 });
    await store.close();
  });

  it("changes made behind the store's back are integrity errors, and a cut audit log fails verification", async () => {
    const db = await migrated(cluster);
    const store = new PostgresStore({ url: db.operator });
    await store.transact("tp", create("tp"), mk);
    await store.transact("tp", rename("b"), upd);
    await store.transact("tp", rename("c"), upd);
    cluster.psql(
      `UPDATE greentic.environments SET document = replace(document, '"c"', '"evil"') WHERE env_id = 'tp'`,
      db.name,
    );
    const tampered = await rejects(store.load("tp"));
    expect(tampered.kind).toBe("integrity");
    expect(tampered.message).toContain("does not hash to its etag");
    expect((await store.list())[0]).toMatchObject({ environment_id: "tp", status: "integrity" });
    expect(await store.verifyAudit("tp")).toEqual({ ok: true, lines: 3 });
    cluster.psql("DELETE FROM greentic.audit_events WHERE seq = 3", db.name);
    expect(await store.verifyAudit("tp")).toMatchObject({ ok: false, line: 3 });
    cluster.psql("DELETE FROM greentic.audit_events WHERE seq = 2", db.name);
    expect(await store.verifyAudit("tp")).toMatchObject({ ok: false, line: 2 });
    await store.close();
  });

  it("a stopped server is an io error naming the URL without its password; work resumes after a restart", async () => {
    const db = await migrated(cluster);
    const url = db.operator.replace("alice@", "alice:hunter2@");
    const store = new PostgresStore({ url });
    await store.transact("rs", create("rs"), mk);
    pauseCluster(cluster);
    try {
      const down = await rejects(store.transact("rs", rename("x"), upd));
      expect(down.kind).toBe("io");
      expect(down.message).toContain(`postgres://alice:***@127.0.0.1:${cluster.port}/${db.name}`);
      expect(JSON.stringify(down.toJSON())).not.toContain("hunter2");
      expect(down.hint).toContain("same --idempotency-key");
    } finally {
      cluster.start();
    }
    const r = await store.transact("rs", rename("back"), upd);
    expect(r.generation).toBe(2);
    expect(await store.verifyAudit("rs")).toEqual({ ok: true, lines: 2 });
    await store.close();
  });
});
