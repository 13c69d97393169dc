import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GreenticError, canonicalDigest, type EnvironmentRuntime } from "@greentic/deploy-spec";
import type { EnvironmentStore } from "@greentic/environment-store";
import { unboundDeployments } from "../../../scripts/test-support/unbound-routes.ts";
import { backends, create, envDoc, pgSkip, rejects, rename, startPgCluster, type PgCluster } from "./helpers.js";

// One conformance suite, run unchanged against both backends: everything here is the
// EnvironmentStore contract (what a caller sees), not the medium.

const skip = pgSkip();
let cluster: PgCluster;
beforeAll(async () => {
  if (!skip) cluster = await startPgCluster();
});
afterAll(() => cluster?.stop());

const mk = { noun: "env", verb: "create", create: true } as const;
const upd = (extra: Record<string, unknown> = {}) => ({ noun: "env", verb: "update", ...extra });

describe.skipIf(skip !== undefined).each(backends(() => cluster))("EnvironmentStore contract: %s", (_name, factory) => {
  let store: EnvironmentStore;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await factory());
  });
  afterAll(async () => close());

  it("creates at generation 1 with the canonical etag, loads it, lists it sorted", async () => {
    const r = await store.transact("beta", create("beta"), mk);
    expect(r).toMatchObject({ result: { created: "beta" }, generation: 1, idempotency: "applied" });
    expect(r.etag).toBe(canonicalDigest({ ...envDoc("beta"), generation: 1 }));
    expect(r.audit).toMatchObject({ noun: "env", verb: "create", env_id: "beta", new_generation: 1 });
    expect(r.audit.prev_hash).toBeUndefined();
    await store.transact("alpha", create("alpha"), mk);
    const loaded = await store.load("beta");
    expect(loaded).toMatchObject({ generation: 1, etag: r.etag, environment: { ...envDoc("beta"), generation: 1 } });
    expect(await store.exists("beta")).toBe(true);
    expect(await store.exists("gamma")).toBe(false);
    const list = await store.list();
    expect(list.map((e) => [e.environment_id, e.status, e.generation])).toEqual([
      ["alpha", "ok", 1],
      ["beta", "ok", 1],
    ]);
  });

  it("a missing environment is not-found; bad ids are invalid-argument", async () => {
    expect((await rejects(store.load("nope"))).kind).toBe("not-found");
    expect((await rejects(store.transact("nope", rename("x"), upd()))).kind).toBe("not-found");
    for (const id of ["..", "a/b", "a b", ""]) {
      const err = await rejects(store.load(id));
      expect(err.kind).toBe("invalid-argument");
      expect(err.message).toContain(JSON.stringify(id));
    }
  });

  it("each change is the next generation; a stale etag or generation is precondition-failed and changes nothing", async () => {
    await store.transact("cas", create("cas"), mk);
    const first = await store.load("cas");
    const r2 = await store.transact("cas", rename("two"), upd({ precondition: { if_match: first.etag } }));
    expect(r2.generation).toBe(2);
    expect(r2.audit).toMatchObject({ previous_generation: 1, new_generation: 2 });
    const stale = await rejects(
      store.transact("cas", rename("three"), upd({ precondition: { if_match: first.etag } })),
    );
    expect(stale.kind).toBe("precondition-failed");
    expect(stale.details).toMatchObject({ expected_etag: first.etag, actual_etag: r2.etag, actual_generation: 2 });
    const staleGen = await rejects(
      store.transact("cas", rename("three"), upd({ precondition: { expected_generation: 1 } })),
    );
    expect(staleGen.kind).toBe("precondition-failed");
    expect(staleGen.message).toBe("environment cas changed: expected generation 1, actual 2");
    const weak = await rejects(
      store.transact("cas", rename("x"), upd({ precondition: { if_match: `W/"${r2.etag}"` } })),
    );
    expect(weak.kind).toBe("invalid-argument");
    expect((await store.load("cas")).generation).toBe(2);
    expect((await store.load("cas")).environment.name).toBe("two");
  });

  it("a no-op is audited but keeps the generation; quietNoop commits nothing", async () => {
    await store.transact("noop", create("noop"), mk);
    const same = await store.transact("noop", (c) => ({ environment: c!, result: 1 }), upd());
    expect(same.generation).toBe(1);
    expect(same.audit.new_generation).toBeUndefined();
    await store.transact("noop", (c) => ({ environment: c!, result: 1 }), upd({ quietNoop: true }));
    expect((await store.listAudit("noop")).map((e) => e.verb)).toEqual(["create", "update"]);
  });

  it("the same idempotency key and request replays; another request with that key conflicts", async () => {
    await store.transact("idem", create("idem"), mk);
    const options = upd({ idempotencyKey: "k-1", request: { name: "n1" } });
    const a = await store.transact("idem", rename("n1"), options);
    const b = await store.transact("idem", rename("n1"), options);
    expect(b).toEqual({ ...a, idempotency: "replayed" });
    expect((await store.load("idem")).generation).toBe(2);
    const c = await rejects(
      store.transact("idem", rename("n2"), upd({ idempotencyKey: "k-1", request: { name: "n2" } })),
    );
    expect(c.kind).toBe("idempotency-conflict");
    // A retry that pins the state it saw before its own commit still replays.
    const pinned = await store.transact("idem", rename("n1"), { ...options, precondition: { expected_generation: 1 } });
    expect(pinned.idempotency).toBe("replayed");
    const check = await store.checkMutation("idem", options);
    expect(check).toEqual({ status: "replay", replayed: { ...a, idempotency: "replayed" } });
    const bad = await rejects(store.transact("idem", rename("x"), upd({ idempotencyKey: "" })));
    expect(bad.kind).toBe("invalid-argument");
  });

  it("a committed-on-error outcome commits, throws, and replays the error", async () => {
    await store.transact("err", create("err"), mk);
    const failing = () => ({
      environment: { ...envDoc("err", "half"), generation: 1 },
      result: null,
      error: new GreenticError("conflict", "partly done"),
    });
    const e1 = await rejects(store.transact("err", failing, upd({ idempotencyKey: "e", request: 1 })));
    expect([e1.kind, e1.message]).toEqual(["conflict", "partly done"]);
    expect((await store.load("err")).environment.name).toBe("half");
    const e2 = await rejects(store.transact("err", failing, upd({ idempotencyKey: "e", request: 1 })));
    expect(e2.details).toMatchObject({ idempotency: "replayed" });
    const events = await store.listAudit("err");
    expect(events.at(-1)?.result).toEqual({ outcome: "error", kind: "conflict", message: "partly done" });
  });

  it("side documents: runtime and pack answers are staged, read back, and derived runtime-config follows", async () => {
    await store.transact("side", create("side"), mk);
    const runtime = {
      schema: "greentic.environment-runtime.v1",
      environment_id: "side",
      discovered: { port: 8080 },
      generated_at: "2026-07-01T00:00:00Z",
      generated_by: "greentic.deployer.local-process@0.1.0",
      generation: 1,
    } as unknown as EnvironmentRuntime;
    await store.transact(
      "side",
      async (c, ctx) => {
        ctx.setPackAnswers("deployer", { a: 1 });
        expect(await ctx.packAnswers("deployer")).toEqual({ a: 1 });
        ctx.setRuntime(runtime);
        return { environment: c!, result: null };
      },
      upd(),
    );
    expect(await store.loadPackAnswers("side", "deployer")).toEqual({ a: 1 });
    expect(await store.loadRuntime("side")).toEqual(runtime);
    expect((await store.load("side")).generation).toBe(2);
    const badSlot = await rejects(store.loadPackAnswers("side", "../x"));
    expect(badSlot.kind).toBe("invalid-argument");
  });

  it("a throwing or invalid transform writes nothing", async () => {
    await store.transact("bad", create("bad"), mk);
    const boom = new GreenticError("conflict", "nope");
    expect(
      await rejects(
        store.transact(
          "bad",
          () => {
            throw boom;
          },
          upd(),
        ),
      ),
    ).toBe(boom);
    const invalid = await rejects(
      store.transact("bad", (c) => ({ environment: { ...c!, environment_id: "other" }, result: null }), upd()),
    );
    expect(invalid.kind).toBe("validation");
    expect((await store.load("bad")).generation).toBe(1);
    expect((await store.listAudit("bad")).length).toBe(1);
  });

  it("a change that gives two deployments with traffic the same requests is refused (route-collision) and writes nothing", async () => {
    // Two unbound deployments, each with a ready revision; only A has traffic.
    const ids = { A: "01JTKW5B4W4Q5Y1CQW93F7SA00", B: "01JTKW5B4W4Q5Y1CQW93F7SB00" } as const;
    const doc = (served: ("A" | "B")[]) =>
      ({
        ...envDoc("routes"),
        ...unboundDeployments(
          "routes",
          [
            [ids.A, "a"],
            [ids.B, "b"],
          ],
          served.map((n) => ids[n]),
        ),
      }) as never;
    await store.transact("routes", () => ({ environment: doc(["A"]), result: null }), mk);
    const before = await store.load("routes");
    const refused = await rejects(
      store.transact("routes", () => ({ environment: doc(["A", "B"]), result: null }), upd()),
    );
    expect([refused.kind, refused.path, refused.details]).toEqual([
      "conflict",
      "route_binding",
      { code: "route-collision", deployment_id: ids.B, other_deployment_id: ids.A, host: null, path_prefix: "/" },
    ]);
    expect(refused.message).toBe(
      `deployment ${ids.B} (bundle b) and deployment ${ids.A} (bundle a) would both have traffic and both claim any host and path prefix / (\`route_binding\` {"hosts":[],"path_prefixes":[]} each): the environment URL could only answer 421 to those requests`,
    );
    expect(await store.load("routes")).toEqual(before);
    expect((await store.listAudit("routes")).length).toBe(1);
  });

  it("the audit chain verifies and filters; backups restore as a new generation", async () => {
    await store.transact("hist", create("hist"), mk);
    for (const n of ["a", "b", "c"]) await store.transact("hist", rename(n), upd());
    const events = await store.listAudit("hist");
    expect(events.map((e) => e.new_generation)).toEqual([1, 2, 3, 4]);
    for (let i = 1; i < events.length; i++) expect(events[i]!.prev_hash).toMatch(/^[0-9a-f]{64}$/u);
    expect(await store.verifyAudit("hist")).toEqual({ ok: true, lines: 4 });
    expect((await store.listAudit("hist", { verb: "update", limit: 2 })).map((e) => e.new_generation)).toEqual([3, 4]);
    expect(await store.listAudit("hist", { noun: "traffic" })).toEqual([]);
    const backups = await store.listBackups("hist");
    const envBackups = backups.filter((b) => b.file === "environment.json");
    expect(envBackups.map((b) => b.generation)).toEqual([3, 2, 1]);
    expect(envBackups.every((b) => b.valid)).toBe(true);
    const noPin = await rejects(store.restore("hist", envBackups[2]!.backup_id, {}));
    expect(noPin.kind).toBe("precondition-failed");
    const restored = await store.restore("hist", envBackups[2]!.backup_id, { expected_generation: 4 });
    expect(restored.generation).toBe(5);
    expect((await store.load("hist")).environment.name).toBe("hist");
    expect((await rejects(store.restore("hist", "nonsense", { expected_generation: 5 }))).kind).toBe(
      "invalid-argument",
    );
    expect(await store.verifyAudit("hist")).toEqual({ ok: true, lines: 5 });
  });

  it("backups are kept to the retention, newest first, the newest one the generation it replaced", async () => {
    const kept = await factory({ backupRetention: 3 });
    try {
      await kept.store.transact("kept", create("kept"), mk);
      for (let n = 2; n <= 6; n++) await kept.store.transact("kept", rename(`n${n}`), upd());
      const backups = (await kept.store.listBackups("kept")).filter((b) => b.file === "environment.json");
      expect(backups.map((b) => [b.generation, b.valid])).toEqual([
        [5, true],
        [4, true],
        [3, true],
      ]);
      expect(new Set(backups.map((b) => b.backup_id)).size).toBe(3);
    } finally {
      await kept.close();
    }
  });

  it("refuses a backup retention below 1 or not a whole number (invalid-argument, exit 2), with the default in the hint", async () => {
    for (const bad of [0, -1, 2.5]) {
      const err = await rejects(factory({ backupRetention: bad }));
      expect(err.kind).toBe("invalid-argument");
      expect(err.message).toBe(`backupRetention must be a positive integer, got ${bad}`);
      expect(err.hint).toBe("the default is 50");
    }
  });

  it("destroy removes the environment (pinned), audits it, and the id can be created afresh", async () => {
    await store.transact("gone", create("gone"), mk);
    const stale = await rejects(store.destroy("gone", { precondition: { expected_generation: 7 } }));
    expect(stale.kind).toBe("precondition-failed");
    const d = await store.destroy("gone", { precondition: { expected_generation: 1 } });
    expect(d.audit).toMatchObject({ noun: "env", verb: "destroy", previous_generation: 1 });
    expect(await store.exists("gone")).toBe(false);
    expect((await rejects(store.destroy("gone"))).kind).toBe("not-found");
    const again = await store.transact("gone", create("gone"), mk);
    expect(again.generation).toBe(1);
    expect(again.audit.prev_hash).toBeUndefined();
  });

  it("checkMutation proceeds with the current pin and commits nothing", async () => {
    await store.transact("chk", create("chk"), mk);
    const loaded = await store.load("chk");
    expect(await store.checkMutation("chk", upd({ precondition: { if_match: loaded.etag } }))).toEqual({
      status: "proceed",
      etag: loaded.etag,
      generation: 1,
    });
    expect((await store.listAudit("chk")).length).toBe(1);
    const stale = await rejects(store.checkMutation("chk", upd({ precondition: { expected_generation: 9 } })));
    expect(stale.kind).toBe("precondition-failed");
  });
});
