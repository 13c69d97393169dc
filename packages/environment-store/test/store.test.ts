import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GreenticError, canonicalDigest, prettyJson } from "@greentic/deploy-spec";
import { LocalFsStore } from "../src/index.js";
import { create, envDoc, rename, tempRoot, tempStore } from "./helpers.js";

async function rejects(p: Promise<unknown>): Promise<GreenticError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(GreenticError);
    return error as GreenticError;
  }
  throw new Error("expected a rejection");
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else out[p] = await readFile(join(dir, p), "utf8");
    }
  };
  await walk("");
  return out;
}

describe("environment ids", () => {
  it.each([".", "..", "a/b", "a\\b", "a:b", "a\0b", "a b", "tab\t", ".hidden", ""])(
    "rejects %j everywhere",
    async (id) => {
      const store = await tempStore();
      for (const call of [
        store.load(id),
        store.exists(id),
        store.transact(id, create(id), { noun: "env", verb: "create", create: true }),
        store.listAudit(id),
      ]) {
        const err = await rejects(call);
        expect(err.kind).toBe("invalid-argument");
        expect(err.message).toContain(JSON.stringify(id));
        expect(err.hint).toBeTruthy();
      }
    },
  );
});

describe("transact, load, list", () => {
  it("writes the reference's on-disk form with a generation and the canonical etag", async () => {
    const store = await tempStore();
    const r = await store.transact("local", create("local"), { noun: "env", verb: "create", create: true });
    const text = await readFile(join(store.root, "local", "environment.json"), "utf8");
    expect(text).toBe(prettyJson({ ...envDoc("local"), generation: 1 }));
    expect(r).toMatchObject({
      result: { created: "local" },
      generation: 1,
      idempotency: "applied",
      etag: canonicalDigest(JSON.parse(text)),
    });
    expect(r.audit).toMatchObject({
      schema: "greentic.audit.event.v1",
      env_id: "local",
      noun: "env",
      verb: "create",
      new_generation: 1,
      authorization: { decision: "allow", policy: "local-only", reason: "env `local` is the local env" },
      result: { outcome: "ok" },
      actor: { kind: "local-user", uid: process.getuid!() },
    });
    expect(r.audit.previous_generation).toBeUndefined();
    expect(r.audit.prev_hash).toBeUndefined();
  });

  it("missing environment is not-found; lists sorted, skipping non-env dirs and showing corrupt ones", async () => {
    const store = await tempStore();
    expect(await store.list()).toEqual([]);
    expect((await rejects(store.load("nope"))).kind).toBe("not-found");
    expect((await rejects(store.transact("nope", rename("x"), { noun: "env", verb: "update" }))).kind).toBe(
      "not-found",
    );
    for (const id of ["zeta", "alpha"])
      await store.transact(id, create(id), { noun: "env", verb: "create", create: true });
    await mkdir(join(store.root, "empty-dir"));
    await mkdir(join(store.root, ".hidden"));
    await writeFile(join(store.root, "a-file"), "x");
    await mkdir(join(store.root, "broken"));
    await writeFile(join(store.root, "broken", "environment.json"), "{not json");
    const list = await store.list();
    expect(list.map((e) => [e.environment_id, e.status])).toEqual([
      ["alpha", "ok"],
      ["broken", "integrity"],
      ["zeta", "ok"],
    ]);
    expect(list[1]!.problem).toContain("not valid JSON");
    expect(await store.exists("alpha")).toBe(true);
    expect(await store.exists("empty-dir")).toBe(false);
  });

  it("a throwing transform writes nothing; an invalid result is a validation error and writes nothing", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const before = await snapshot(join(store.root, "e"));
    const boom = new GreenticError("conflict", "nope");
    expect(
      await rejects(
        store.transact(
          "e",
          () => {
            throw boom;
          },
          { noun: "env", verb: "update" },
        ),
      ),
    ).toBe(boom);
    const invalid = await rejects(
      store.transact("e", (c) => ({ environment: { ...c!, host_config: { env_id: "other" } }, result: null }), {
        noun: "env",
        verb: "update",
      }),
    );
    expect(invalid.kind).toBe("validation");
    expect(invalid.message).toContain("host_config");
    const wrongId = await rejects(
      store.transact("e", () => ({ environment: envDoc("f"), result: null }), { noun: "env", verb: "update" }),
    );
    expect(wrongId.kind).toBe("validation");
    expect(wrongId.message).toContain('"f"');
    expect(await snapshot(join(store.root, "e"))).toEqual(before);
  });

  it("a no-op keeps the generation and etag and is still audited", async () => {
    const store = await tempStore();
    const a = await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const b = await store.transact("e", (c) => ({ environment: c!, result: "same" }), { noun: "env", verb: "init" });
    expect([b.generation, b.etag]).toEqual([a.generation, a.etag]);
    expect(b.audit.new_generation).toBeUndefined();
    expect((await store.listAudit("e")).map((e) => e.verb)).toEqual(["create", "init"]);
    expect(await store.listBackups("e")).toEqual([]);
  });

  it("committed-on-error persists the change, audits the error, then throws it", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const gate = new GreenticError("conflict", "health gate failed");
    const err = await rejects(
      store.transact("e", (c) => ({ environment: { ...c!, name: "failed" }, result: "x", error: gate }), {
        noun: "revisions",
        verb: "warm",
        idempotencyKey: "k1",
      }),
    );
    expect(err).toBe(gate);
    const loaded = await store.load("e");
    expect([loaded.generation, loaded.environment.name]).toEqual([2, "failed"]);
    const last = (await store.listAudit("e")).at(-1)!;
    expect(last.result).toEqual({ outcome: "error", kind: "conflict", message: "health gate failed" });
    // The key was consumed: the retry replays the same error and writes nothing.
    const replay = await rejects(
      store.transact("e", (c) => ({ environment: { ...c!, name: "other" }, result: "y" }), {
        noun: "revisions",
        verb: "warm",
        idempotencyKey: "k1",
      }),
    );
    expect([replay.kind, replay.message, replay.details?.idempotency]).toEqual([
      "conflict",
      "health gate failed",
      "replayed",
    ]);
    expect((await store.load("e")).generation).toBe(2);
  });

  it("runtime, pack answers and runtime-config live in the transaction", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const runtime = {
      schema: "greentic.environment-runtime.v1",
      environment_id: "e",
      discovered: { port: 8080 },
      generated_at: "2026-07-01T00:00:00Z",
      generated_by: "greentic.deployer.local-process@0.1.0",
      generation: 1,
    } as const;
    await store.transact(
      "e",
      async (c, ctx) => {
        expect(await ctx.runtime()).toBeUndefined();
        ctx.setRuntime(runtime);
        ctx.setPackAnswers("deployer", { port: 1 });
        expect(await ctx.packAnswers("deployer")).toEqual({ port: 1 });
        return { environment: c!, result: null };
      },
      { noun: "env-packs", verb: "configure" },
    );
    const loaded = await store.load("e");
    expect(loaded.generation).toBe(2);
    expect(loaded.runtime).toEqual(runtime);
    expect(await store.loadPackAnswers("e", "deployer")).toEqual({ port: 1 });
    const badRuntime = await rejects(
      store.transact(
        "e",
        (c, ctx) => {
          ctx.setRuntime({ ...runtime, environment_id: "x" });
          return { environment: c!, result: null };
        },
        { noun: "n", verb: "v" },
      ),
    );
    expect(badRuntime.kind).toBe("validation");
    await store.transact(
      "e",
      (c, ctx) => {
        ctx.setPackAnswers("deployer", null);
        return { environment: c!, result: null };
      },
      { noun: "env-packs", verb: "remove" },
    );
    expect(await store.loadPackAnswers("e", "deployer")).toBeUndefined();
    expect((await store.listBackups("e")).map((b) => b.file).sort()).toEqual([
      "env-packs/deployer/answers.json",
      "environment.json",
      "environment.json",
    ]);
    expect((await rejects(store.loadPackAnswers("e", "../x"))).kind).toBe("invalid-argument");
    await expect(stat(join(store.root, "e", "runtime-config.json"))).rejects.toThrow(/ENOENT/);
  });
});

describe("compare-and-swap", () => {
  it("a stale etag or generation fails with both values named and changes nothing", async () => {
    const store = await tempStore();
    const a = await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const b = await store.transact("e", rename("two"), {
      noun: "env",
      verb: "update",
      precondition: { expected_generation: 1 },
    });
    const before = await snapshot(join(store.root, "e"));
    const byEtag = await rejects(
      store.transact("e", rename("three"), { noun: "env", verb: "update", precondition: { if_match: a.etag } }),
    );
    expect(byEtag.kind).toBe("precondition-failed");
    expect(byEtag.message).toBe(`environment e changed: expected etag ${a.etag}, actual ${b.etag} (generation 2)`);
    const byGen = await rejects(
      store.transact("e", rename("three"), { noun: "env", verb: "update", precondition: { expected_generation: 1 } }),
    );
    expect(byGen.message).toBe("environment e changed: expected generation 1, actual 2");
    expect(await snapshot(join(store.root, "e"))).toEqual(before);
    const ok = await store.transact("e", rename("three"), {
      noun: "env",
      verb: "update",
      precondition: { if_match: `"${b.etag}"`, expected_generation: 2 },
    });
    expect(ok.generation).toBe(3);
  });
});

describe("idempotency", () => {
  it("same key + same request replays without writing; a different request conflicts; survives a new store instance", async () => {
    const root = await tempRoot();
    const store = new LocalFsStore({ root });
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const opts = { noun: "env", verb: "update", idempotencyKey: "01J0000000000000000000000A", request: { name: "n1" } };
    const first = await store.transact("e", rename("n1"), opts);
    const before = await snapshot(join(root, "e"));
    const again = await new LocalFsStore({ root }).transact("e", rename("SHOULD-NOT-RUN"), opts);
    expect(again).toEqual({ ...first, idempotency: "replayed" });
    expect(await snapshot(join(root, "e"))).toEqual(before);
    const conflict = await rejects(store.transact("e", rename("n2"), { ...opts, request: { name: "n2" } }));
    expect(conflict.kind).toBe("idempotency-conflict");
    expect(conflict.message).toContain("01J0000000000000000000000A");
    expect((await store.listAudit("e")).length).toBe(2);
    expect((await rejects(store.transact("e", rename("x"), { ...opts, idempotencyKey: "" }))).kind).toBe(
      "invalid-argument",
    );
    expect((await rejects(store.transact("e", rename("x"), { ...opts, idempotencyKey: "k".repeat(256) }))).kind).toBe(
      "invalid-argument",
    );
  });

  it("the ledger is bounded: the oldest keys are evicted", async () => {
    const store = await tempStore({ ledgerCapacity: 3 });
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    for (let i = 0; i < 5; i++)
      await store.transact("e", rename(`n${i}`), { noun: "env", verb: "update", idempotencyKey: `k${i}`, request: i });
    expect((await readdir(join(store.root, "e", "idempotency"))).length).toBe(3);
    // k0 was evicted: it applies again as a new request.
    expect(
      (await store.transact("e", rename("n0"), { noun: "env", verb: "update", idempotencyKey: "k0", request: 0 }))
        .idempotency,
    ).toBe("applied");
    expect(
      (await store.transact("e", rename("zz"), { noun: "env", verb: "update", idempotencyKey: "k4", request: 4 }))
        .idempotency,
    ).toBe("replayed");
  });
});

describe("authorization", () => {
  it("a deny writes only the audited denial and throws unauthorized", async () => {
    const root = await tempRoot();
    await new LocalFsStore({ root }).transact("prod", create("prod"), { noun: "env", verb: "create", create: true });
    const store = new LocalFsStore({
      root,
      authorize: (r) =>
        r.verb === "update"
          ? { decision: "deny", policy: "read-only", reason: `no ${r.verb} for ${r.actor.user}` }
          : { decision: "allow", policy: "p", reason: "r" },
    });
    const env = await readFile(join(root, "prod", "environment.json"), "utf8");
    const err = await rejects(
      store.transact("prod", rename("x"), {
        noun: "env",
        verb: "update",
        idempotencyKey: "d1",
        actor: { kind: "local-user", user: "mallory", uid: 1 },
      }),
    );
    expect(err.kind).toBe("unauthorized");
    expect(err.message).toBe("env update on environment prod denied by policy read-only: no update for mallory");
    expect(await readFile(join(root, "prod", "environment.json"), "utf8")).toBe(env);
    const events = await store.listAudit("prod");
    expect(events.at(-1)).toMatchObject({
      verb: "update",
      authorization: { decision: "deny", policy: "read-only" },
      result: { outcome: "error", kind: "unauthorized" },
      actor: { user: "mallory" },
    });
    expect(events.at(-1)!.new_generation).toBeUndefined();
    await expect(stat(join(root, "prod", "idempotency"))).rejects.toThrow(/ENOENT/);
    expect(events[0]!.authorization.policy).toBe("local-owner");
  });
});

describe("atomic writes and symlinks", () => {
  it("refuses to write through a symlinked file or directory in the store", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const outside = await tempRoot();
    await mkdir(join(store.root, "e", "env-packs"));
    await symlink(outside, join(store.root, "e", "env-packs", "deployer"));
    const err = await rejects(
      store.transact(
        "e",
        (c, ctx) => {
          ctx.setPackAnswers("deployer", { a: 1 });
          return { environment: c!, result: null };
        },
        { noun: "env-packs", verb: "configure" },
      ),
    );
    expect(err.kind).toBe("io");
    expect(err.message).toContain("is a symbolic link");
    expect(await readdir(outside)).toEqual([]);
    // A symlinked environment.json is refused on read.
    await writeFile(join(outside, "env.json"), prettyJson(envDoc("l")));
    await mkdir(join(store.root, "l"));
    await symlink(join(outside, "env.json"), join(store.root, "l", "environment.json"));
    const read = await rejects(store.load("l"));
    expect([read.kind, read.message.includes("symbolic link")]).toEqual(["integrity", true]);
  });

  it("leaves no temp files behind and keeps 0600 files in a 0700 data dir", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    for (let i = 0; i < 3; i++) await store.transact("e", rename(`n${i}`), { noun: "env", verb: "update" });
    const files = Object.keys(await snapshot(join(store.root, "e")));
    expect(files.filter((f) => f.includes(".tmp-"))).toEqual([]);
    expect(files).not.toContain(".txn.json");
    expect((await stat(join(store.root, "e", "environment.json"))).mode & 0o777).toBe(0o600);
    const data = await store.dataDir("e", "staged-bundles");
    expect(data).toBe(join(store.root, "e", "data", "staged-bundles"));
    expect((await stat(data)).mode & 0o777).toBe(0o700);
    expect((await rejects(store.dataDir("e", "../x"))).kind).toBe("invalid-argument");
  });
});

describe("backups", () => {
  it("backs up the previous version before every overwrite and prunes to the retention", async () => {
    const store = await tempStore({ backupRetention: 3 });
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    expect(await store.listBackups("e")).toEqual([]);
    for (let i = 0; i < 6; i++) await store.transact("e", rename(`n${i}`), { noun: "env", verb: "update" });
    const backups = await store.listBackups("e");
    expect(backups.map((b) => b.generation)).toEqual([6, 5, 4]);
    expect(
      backups.every((b) => b.valid && /^environment\.json\.\d{8}T\d{6}\.\d{9}Z(\.\d+)?\.bak$/.test(b.backup_id)),
    ).toBe(true);
    const newest = JSON.parse(await readFile(join(store.root, "e", "backups", backups[0]!.backup_id), "utf8"));
    expect([newest.name, newest.generation, canonicalDigest(newest)]).toEqual(["n4", 6, backups[0]!.etag]);
  });
});

describe("locks", () => {
  it("a held lock makes others wait, then fail with `locked` naming the holder; forceUnlock needs the id", async () => {
    const root = await tempRoot();
    const store = new LocalFsStore({ root });
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const slow = store.transact(
      "e",
      async (c) => {
        entered();
        await held;
        return { environment: { ...c!, name: "slow" }, result: null };
      },
      { noun: "traffic", verb: "set" },
    );
    await inside;
    const info = await store.lockInfo("e");
    expect(info).toMatchObject({ pid: process.pid, operation: "traffic set" });
    const other = new LocalFsStore({ root, lockTimeoutMs: 300 });
    const err = await rejects(other.transact("e", rename("x"), { noun: "env", verb: "update" }));
    expect(err.kind).toBe("locked");
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toContain(`lock id ${info!.id}`);
    expect((await rejects(other.forceUnlock("e", "wrong"))).kind).toBe("precondition-failed");
    release();
    await slow;
    expect(await store.lockInfo("e")).toBeUndefined();
    expect((await rejects(other.forceUnlock("e", info!.id))).kind).toBe("not-found");
  });

  it("in one process, concurrent transactions on one env serialise", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.transact("e", rename(`n${i}`), { noun: "env", verb: "update" })),
    );
    expect(results.map((r) => r.generation).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
  });

  it("a lock left by a dead process is reclaimed after the stale period; forceUnlock removes it at once", async () => {
    const store = await tempStore({ lockStaleMs: 2000 });
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const dir = join(store.root, ".locks", "e.lock");
    await mkdir(dir);
    await writeFile(
      join(dir, "owner.json"),
      JSON.stringify({
        id: "dead-1",
        pid: 999999,
        host: "h",
        user: "u",
        operation: "x",
        acquired_at: "2026-01-01T00:00:00Z",
      }),
    );
    const started = Date.now();
    await store.transact("e", rename("after"), { noun: "env", verb: "update" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    await mkdir(dir);
    await writeFile(
      join(dir, "owner.json"),
      JSON.stringify({
        id: "dead-2",
        pid: 999999,
        host: "h",
        user: "u",
        operation: "x",
        acquired_at: "2026-01-01T00:00:00Z",
      }),
    );
    expect((await store.forceUnlock("e", "dead-2")).id).toBe("dead-2");
    await expect(lstat(dir)).rejects.toThrow(/ENOENT/);
  });
});

describe("destroy", () => {
  it("moves the environment aside with its audit log and records the destroy", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const { audit } = await store.destroy("e");
    expect(audit).toMatchObject({ noun: "env", verb: "destroy", previous_generation: 1 });
    expect(await store.exists("e")).toBe(false);
    expect(await store.list()).toEqual([]);
    const [moved] = await readdir(join(store.root, ".destroyed"));
    const log = (await readFile(join(store.root, ".destroyed", moved!, "audit", "events.jsonl"), "utf8"))
      .trim()
      .split("\n");
    expect(log.map((l) => JSON.parse(l).verb)).toEqual(["create", "destroy"]);
    expect((await rejects(store.destroy("e"))).kind).toBe("not-found");
    // The id can be reused with a fresh history.
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    expect(await store.verifyAudit("e")).toEqual({ ok: true, lines: 1 });
  });
});

describe("options", () => {
  it("defaults the root under GREENTIC_HOME and rejects a bad retention", () => {
    const prev = process.env.GREENTIC_HOME;
    process.env.GREENTIC_HOME = "/tmp/gh";
    try {
      expect(new LocalFsStore().root).toBe("/tmp/gh/environments");
    } finally {
      if (prev === undefined) delete process.env.GREENTIC_HOME;
      else process.env.GREENTIC_HOME = prev;
    }
    expect(() => new LocalFsStore({ backupRetention: 0 })).toThrow(/backupRetention/);
  });
});
