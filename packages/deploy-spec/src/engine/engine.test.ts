import { describe, expect, it } from "vitest";
import { DEP, NOW, REV_A, REV_B, context, revision, sampleEnvironment, ulid } from "../../test/fixtures.js";
import {
  EnvCreateAnswersSchema,
  EnvUpdateAnswersSchema,
  TrafficSetAnswersSchema,
  BundlesAddAnswersSchema,
} from "../answers.js";
import { canonicalJson } from "../canonical.js";
import type { Environment } from "../documents.js";
import { GreenticError } from "../errors.js";
import { validateEnvironment } from "../validate-environment.js";
import { engine } from "./index.js";
import { projectRuntimeConfig } from "./runtime-config.js";

function caught(fn: () => unknown): GreenticError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GreenticError) return e;
    throw e;
  }
  throw new Error("expected a GreenticError");
}

const ctx = context();
const LATER = "2026-07-02T08:30:00Z";

function trafficPayload(entries: unknown[], key = "k1") {
  return TrafficSetAnswersSchema.parse({ environment_id: "local", deployment_id: DEP, entries, idempotency_key: key });
}

describe("environment verbs", () => {
  it("create makes an env with no bindings and refuses an existing one", () => {
    const out = engine.createEnvironment(
      undefined,
      EnvCreateAnswersSchema.parse({
        environment_id: "prod",
        region: "eu",
        public_base_url: " https://prod.example.com/ ",
      }),
      ctx,
    );
    expect(out.environment).toEqual({
      schema: "greentic.environment.v1",
      environment_id: "prod",
      name: "prod",
      host_config: { env_id: "prod", region: "eu", public_base_url: "https://prod.example.com" },
      packs: [],
      bundles: [],
      revisions: [],
      traffic_splits: [],
      messaging_endpoints: [],
      extensions: [],
      revocation: { required: false },
      retention: {},
      health: { state: "unknown" },
    });
    expect(out.result).toEqual({ environment_id: "prod" });
    const err = caught(() =>
      engine.createEnvironment(out.environment, EnvCreateAnswersSchema.parse({ environment_id: "prod" }), ctx),
    );
    expect([err.kind, err.message]).toEqual(["conflict", "environment prod already exists"]);
  });
  it("update applies set / clear / keep", () => {
    const env = sampleEnvironment();
    env.host_config.region = "eu";
    const payload = EnvUpdateAnswersSchema.parse({
      environment_id: "local",
      name: { value: "Local box" },
      region: { clear: true },
      tenant_org_id: { clear: false },
      public_base_url: { value: "http://[::1]:8080/" },
    });
    const out = engine.updateEnvironment(env, payload, ctx);
    expect(out.environment.name).toBe("Local box");
    expect(out.environment.host_config).toEqual({
      env_id: "local",
      listen_addr: "127.0.0.1:8080",
      public_base_url: "http://[::1]:8080",
    });
    expect(out.result).toEqual({ environment_id: "local", changed: ["name", "region", "public_base_url"] });
    expect(env.host_config.region).toBe("eu");
    const err = caught(() =>
      engine.updateEnvironment(
        env,
        EnvUpdateAnswersSchema.parse({ environment_id: "local", name: { clear: true } }),
        ctx,
      ),
    );
    expect([err.kind, err.message, err.path]).toEqual(["validation", "name cannot be cleared", "name"]);
    const other = caught(() =>
      engine.updateEnvironment(env, EnvUpdateAnswersSchema.parse({ environment_id: "prod" }), ctx),
    );
    expect(other.message).toBe('payload environment_id "prod" does not match environment "local"');
  });
  it("config set writes plain values", () => {
    const out = engine.setConfig(
      sampleEnvironment(),
      { environment_id: "local", gui_enabled: false, listen_addr: "0.0.0.0:9000" },
      ctx,
    );
    expect(out.environment.host_config).toEqual({ env_id: "local", listen_addr: "0.0.0.0:9000", gui_enabled: false });
    expect(out.result.changed).toEqual(["listen_addr", "gui_enabled"]);
  });
  it("init creates local with 6 default bindings, heals missing slots, and is untouched after", () => {
    const created = engine.initLocalEnvironment(
      undefined,
      { environment_id: "local", public_base_url: "https://local.test/" },
      ctx,
    );
    expect(created.result).toEqual({
      environment_id: "local",
      bound_slots: ["deployer", "secrets", "telemetry", "sessions", "state", "revocation"],
      pack_count: 6,
      public_base_url: "https://local.test",
      outcome: "created",
    });
    expect(created.environment.host_config).toEqual({
      env_id: "local",
      listen_addr: "127.0.0.1:8080",
      public_base_url: "https://local.test",
    });
    expect(created.environment.packs[5]).toEqual({
      slot: "revocation",
      kind: "greentic.revocation.local@0.1.0",
      pack_ref: "greentic.revocation.local@0.1.0",
      generation: 0,
    });

    const custom = structuredClone(created.environment);
    custom.packs = custom.packs.filter((p) => p.slot !== "telemetry" && p.slot !== "state");
    custom.packs[0] = { slot: "deployer", kind: "acme.deployer.k8s@2.0.0", pack_ref: "mine", generation: 3 };
    const healed = engine.initLocalEnvironment(custom, { environment_id: "local" }, ctx);
    expect(healed.result.outcome).toBe("healed");
    expect(healed.result.added_slots).toEqual(["telemetry", "state"]);
    expect(healed.environment.packs[0]).toEqual({
      slot: "deployer",
      kind: "acme.deployer.k8s@2.0.0",
      pack_ref: "mine",
      generation: 3,
    });

    const untouched = engine.initLocalEnvironment(healed.environment, { environment_id: "local" }, ctx);
    expect(untouched.result.outcome).toBe("untouched");
    expect("added_slots" in untouched.result).toBe(false);
    expect(untouched.environment).toEqual(healed.environment);

    const err = caught(() =>
      engine.initLocalEnvironment(
        healed.environment,
        { environment_id: "local", public_base_url: "https://x.test" },
        ctx,
      ),
    );
    expect([err.kind, err.path]).toEqual(["invalid-argument", "public_base_url"]);
  });
});

describe("pack binding verbs", () => {
  const base = () => engine.initLocalEnvironment(undefined, { environment_id: "local" }, ctx).environment;
  it("add refuses a bound slot and N-per-env slots", () => {
    const env = base();
    expect(
      caught(() =>
        engine.addPackBinding(
          env,
          { environment_id: "local", slot: "secrets", kind: "greentic.secrets.vault@0.1.0" },
          ctx,
        ),
      ).kind,
    ).toBe("conflict");
    const n = caught(() =>
      engine.addPackBinding(
        env,
        { environment_id: "local", slot: "messaging", kind: "greentic.messaging.slack@0.1.0" },
        ctx,
      ),
    );
    expect([n.kind, n.details]).toEqual(["validation", { code: "not-pack-slot" }]);
    const removed = engine.removePackBinding(env, { environment_id: "local", slot: "secrets" }, ctx);
    expect(removed.result).toEqual({ binding: env.packs[1], generation: 0, previous_generation: 0 });
    const added = engine.addPackBinding(
      removed.environment,
      {
        environment_id: "local",
        slot: "secrets",
        kind: "greentic.secrets.vault@0.1.0",
        answers_ref: "env-packs/secrets/answers.json",
      },
      ctx,
    );
    expect(added.result.binding).toEqual({
      slot: "secrets",
      kind: "greentic.secrets.vault@0.1.0",
      pack_ref: "greentic.secrets.vault@0.1.0",
      answers_ref: "env-packs/secrets/answers.json",
      generation: 0,
    });
  });
  it("update bumps the generation and stashes the previous binding inline, never nested; rollback restores one step", () => {
    const env = base();
    const u1 = engine.updatePackBinding(
      env,
      { environment_id: "local", slot: "secrets", kind: "greentic.secrets.vault@0.1.0" },
      ctx,
    );
    const ref1 = u1.result.binding.previous_binding_ref!;
    expect(u1.result.generation).toBe(1);
    expect(ref1).toMatch(/^inline:\/\/[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(ref1.slice("inline://".length), "base64url").toString())).toEqual(env.packs[1]);

    const u2 = engine.updatePackBinding(
      u1.environment,
      { environment_id: "local", slot: "secrets", kind: "greentic.secrets.vault@0.2.0", pack_ref: "vault" },
      ctx,
    );
    const stashed = JSON.parse(Buffer.from(u2.result.binding.previous_binding_ref!.slice(9), "base64url").toString());
    expect(stashed).toEqual({
      slot: "secrets",
      kind: "greentic.secrets.vault@0.1.0",
      pack_ref: "greentic.secrets.vault@0.1.0",
      generation: 1,
    });

    const rb = engine.rollbackPackBinding(u2.environment, { environment_id: "local", slot: "secrets" }, ctx);
    expect(rb.result).toEqual({
      binding: {
        slot: "secrets",
        kind: "greentic.secrets.vault@0.1.0",
        pack_ref: "greentic.secrets.vault@0.1.0",
        generation: 3,
      },
      generation: 3,
      previous_generation: 2,
    });
    const again = caught(() =>
      engine.rollbackPackBinding(rb.environment, { environment_id: "local", slot: "secrets" }, ctx),
    );
    expect([again.kind, again.details]).toEqual(["conflict", { code: "no-previous-binding" }]);
  });
  it("update/remove/rollback of an unbound slot is not-found", () => {
    const env = sampleEnvironment();
    for (const fn of [
      () => engine.updatePackBinding(env, { environment_id: "local", slot: "state", kind: "a.b@1.0.0" }, ctx),
      () => engine.removePackBinding(env, { environment_id: "local", slot: "state" }, ctx),
      () => engine.rollbackPackBinding(env, { environment_id: "local", slot: "state" }, ctx),
    ]) {
      const err = caught(fn);
      expect([err.kind, err.message]).toEqual([
        "not-found",
        "a binding for slot state in environment local does not exist",
      ]);
    }
  });
  it("a tampered stash is an integrity error", () => {
    const env = base();
    env.packs[1]!.previous_binding_ref = `inline://${Buffer.from('{"slot":"secrets"}').toString("base64url")}`;
    const err = caught(() => engine.rollbackPackBinding(env, { environment_id: "local", slot: "secrets" }, ctx));
    expect(err.kind).toBe("integrity");
    expect(err.message).toBe(
      "slot secrets rollback stash: kind: required field is missing (expected string) (+1 more issue)",
    );
  });
});

describe("bundle verbs", () => {
  it("add mints the deployment id, defaults customer and route binding in local", () => {
    const c = context();
    const env = sampleEnvironment();
    const out = engine.addBundle(env, BundlesAddAnswersSchema.parse({ environment_id: "local", bundle_id: "blog" }), c);
    expect(out.result.deployment).toEqual({
      schema: "greentic.bundle-deployment.v1",
      deployment_id: ulid(500),
      env_id: "local",
      bundle_id: "blog",
      customer_id: "local-dev",
      status: "active",
      current_revisions: [],
      route_binding: { hosts: [], path_prefixes: [], tenant_selector: { tenant: "default", team: "default" } },
      revenue_share: [{ party_id: "greentic", basis_points: 10000 }],
      revenue_policy_ref: "",
      created_at: NOW,
      authorization_ref: "auth.json",
    });
    const dup = caught(() =>
      engine.addBundle(
        out.environment,
        BundlesAddAnswersSchema.parse({ environment_id: "local", bundle_id: "blog", customer_id: "local-dev" }),
        c,
      ),
    );
    expect([dup.kind, dup.message]).toEqual([
      "conflict",
      `bundle blog is already deployed for customer local-dev (deployment ${ulid(500)})`,
    ]);
  });
  it("non-local envs need a customer id", () => {
    const prod = engine.createEnvironment(
      undefined,
      EnvCreateAnswersSchema.parse({ environment_id: "prod" }),
      ctx,
    ).environment;
    const err = caught(() =>
      engine.addBundle(prod, BundlesAddAnswersSchema.parse({ environment_id: "prod", bundle_id: "shop" }), ctx),
    );
    expect([err.kind, err.path]).toEqual(["invalid-argument", "customer_id"]);
    const ok = engine.addBundle(
      prod,
      BundlesAddAnswersSchema.parse({ environment_id: "prod", bundle_id: "shop", customer_id: "acme" }),
      context(),
    );
    expect(ok.result.deployment.customer_id).toBe("acme");
  });
  it("update patches fields and reports a revenue share change", () => {
    const out = engine.updateBundle(
      sampleEnvironment(),
      {
        environment_id: "local",
        deployment_id: DEP,
        status: "paused",
        revenue_share: [{ party_id: "a", basis_points: 10000 }],
      },
      ctx,
    );
    expect(out.result.deployment.status).toBe("paused");
    expect(out.result.revenue_share_changed).toBe(true);
    const overrides = engine.updateBundle(
      out.environment,
      { environment_id: "local", deployment_id: DEP, config_overrides: { "greentic.shop": { a: 1 } } },
      ctx,
    );
    expect(overrides.result).toMatchObject({
      revenue_share_changed: false,
      deployment: { config_overrides: { "greentic.shop": { a: 1 } } },
    });
    const notInRevisions = caught(() =>
      engine.updateBundle(
        out.environment,
        { environment_id: "local", deployment_id: DEP, config_overrides: { "acme.x": { a: 1 } } },
        ctx,
      ),
    );
    expect(notInRevisions.issues.map((i) => i.code)).toEqual(["config-override-pack-not-in-revisions"]);
    expect(
      caught(() => engine.updateBundle(out.environment, { environment_id: "local", deployment_id: ulid(999) }, ctx))
        .kind,
    ).toBe("not-found");
  });
  it("remove is refused while splits or live revisions exist, then prunes archived revisions", () => {
    const env = sampleEnvironment();
    const err = caught(() => engine.removeBundle(env, { environment_id: "local", deployment_id: DEP }, ctx));
    expect(err.kind).toBe("conflict");
    expect(err.message).toBe(
      `deployment ${DEP} is still live: it still has a traffic split; revisions ${REV_A} (ready), ${REV_B} (ready) are not archived`,
    );
    expect(err.details).toEqual({
      code: "still-live",
      active_splits: [{ deployment_id: DEP, bundle_id: "shop", generation: 0 }],
      active_revisions: [
        { revision_id: REV_A, lifecycle: "ready" },
        { revision_id: REV_B, lifecycle: "ready" },
      ],
    });
    const cleared: Environment = {
      ...env,
      traffic_splits: [],
      revisions: env.revisions.map((r) => ({ ...r, lifecycle: "archived" as const })),
      bundles: env.bundles.map((b) => ({ ...b, current_revisions: [] })),
    };
    const out = engine.removeBundle(cleared, { environment_id: "local", deployment_id: DEP }, ctx);
    expect(out.result).toEqual({ deployment_id: DEP, pruned_revision_ids: [REV_A, REV_B] });
    expect(out.environment.bundles).toEqual([]);
    expect(out.environment.revisions).toEqual([]);
  });
});

describe("revision verbs", () => {
  it("stage records a staged revision with the next sequence and lists it in current_revisions", () => {
    const out = engine.stageRevision(
      sampleEnvironment(),
      { environment_id: "local", deployment_id: DEP, revision_id: ulid(3), bundle_digest: `sha256:${"e".repeat(64)}` },
      context(LATER),
    );
    expect(out.result.revision).toEqual({
      schema: "greentic.revision.v1",
      revision_id: ulid(3),
      env_id: "local",
      bundle_id: "shop",
      deployment_id: DEP,
      sequence: 3,
      created_at: LATER,
      bundle_digest: `sha256:${"e".repeat(64)}`,
      pack_list: [],
      pack_list_lock_ref: "",
      pack_config_refs: [],
      config_digest: "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
      signature_sidecar_ref: "",
      lifecycle: "staged",
      staged_at: LATER,
      drain_seconds: 30,
      abort_metrics: [],
    });
    expect(out.environment.bundles[0]!.current_revisions).toEqual([REV_A, REV_B, ulid(3)]);
    expect(out.result.path).toEqual(["inactive", "staged"]);
    const dup = caught(() =>
      engine.stageRevision(out.environment, { deployment_id: DEP, revision_id: ulid(3), bundle_digest: "x" }, ctx),
    );
    expect([dup.kind, dup.message]).toEqual(["conflict", `revision ${ulid(3)} already exists`]);
    expect(
      caught(() => engine.stageRevision(out.environment, { deployment_id: ulid(999), bundle_digest: "x" }, ctx)).kind,
    ).toBe("not-found");
    const minted = engine.stageRevision(out.environment, { deployment_id: DEP, bundle_digest: "x" }, context());
    expect([minted.result.revision.revision_id, minted.result.revision.sequence]).toEqual([ulid(500), 4]);
  });
  const staged = () =>
    engine.stageRevision(sampleEnvironment(), { deployment_id: DEP, revision_id: ulid(3), bundle_digest: "x" }, ctx)
      .environment;
  it("warm walks staged -> warming -> ready when the gate passes; ready again is idempotent", () => {
    const out = engine.warmRevision(staged(), { revision_id: ulid(3), health_gate: { ok: true } }, context(LATER));
    expect(out.result.outcome).toBe("warmed");
    expect(out.result.path).toEqual(["staged", "warming", "ready"]);
    expect(out.result.revision).toMatchObject({ lifecycle: "ready", warmed_at: LATER });
    expect(out.error).toBeUndefined();
    const again = engine.warmRevision(
      out.environment,
      {
        revision_id: ulid(3),
        health_gate: { ok: false, failure: { failed_checks: ["route-table"], message: "ignored" } },
      },
      context("2026-07-03T00:00:00Z"),
    );
    expect(again.result).toMatchObject({
      outcome: "already-ready",
      revision: { lifecycle: "ready", warmed_at: "2026-07-03T00:00:00Z" },
    });
  });
  it("a failed gate commits failed and returns the error with it", () => {
    const out = engine.warmRevision(
      staged(),
      {
        revision_id: ulid(3),
        health_gate: {
          ok: false,
          failure: { failed_checks: ["route-table", "provider-health"], message: "no route for /shop" },
        },
      },
      ctx,
    );
    expect(out.environment.revisions[2]!.lifecycle).toBe("failed");
    expect(out.result.outcome).toBe("health-gate-failed");
    expect(out.error?.kind).toBe("conflict");
    expect(out.error?.message).toBe(`health gate failed for revision ${ulid(3)}: no route for /shop`);
    expect(out.error?.details).toEqual({
      code: "health-gate-failed",
      revision_id: ulid(3),
      failed_checks: ["route-table", "provider-health"],
    });
  });
  it("warm refuses a stale expected state and states other than staged/warming/ready", () => {
    const stale = caught(() =>
      engine.warmRevision(
        staged(),
        { revision_id: ulid(3), expected_lifecycle: "warming", health_gate: { ok: true } },
        ctx,
      ),
    );
    expect([stale.kind, stale.details?.code]).toEqual(["conflict", "stale-health-gate"]);
    const env = sampleEnvironment();
    env.revisions[0]!.lifecycle = "draining";
    const wrong = caught(() => engine.warmRevision(env, { revision_id: REV_A, health_gate: { ok: true } }, ctx));
    expect(wrong.message).toBe(`revision ${REV_A} is draining; warm expects one of [staged, warming, ready]`);
  });
  it("drain needs ready; archive is refused while traffic references the revision", () => {
    const env = sampleEnvironment();
    const drained = engine.drainRevision(env, { revision_id: REV_A }, ctx);
    expect(drained.result.path).toEqual(["ready", "draining"]);
    expect(caught(() => engine.drainRevision(drained.environment, { revision_id: REV_A }, ctx)).message).toBe(
      `revision ${REV_A} is draining; drain expects one of [ready]`,
    );
    const err = caught(() => engine.archiveRevision(drained.environment, { revision_id: REV_A }, ctx));
    expect(err.kind).toBe("conflict");
    expect(err.message).toBe(`revision ${REV_A} still receives traffic: deployment ${DEP} (bundle shop) at 5000 bps`);
    expect(err.hint).toBe("rebalance via `op traffic set` so that no split references it, then archive");
    expect(err.details).toEqual({
      code: "active-traffic-reference",
      revision_id: REV_A,
      references: [{ deployment_id: DEP, bundle_id: "shop", weight_bps: 5000 }],
    });
  });
  it("archive walks draining -> inactive -> archived, drops it from current_revisions, and archived is terminal", () => {
    const env = sampleEnvironment();
    env.traffic_splits[0]!.entries = [{ revision_id: REV_B, weight_bps: 10000 }];
    const drained = engine.drainRevision(env, { revision_id: REV_A }, ctx).environment;
    const out = engine.archiveRevision(drained, { revision_id: REV_A }, ctx);
    expect(out.result.path).toEqual(["draining", "inactive", "archived"]);
    expect(out.environment.bundles[0]!.current_revisions).toEqual([REV_B]);
    const again = caught(() => engine.archiveRevision(out.environment, { revision_id: REV_A }, ctx));
    expect([again.kind, again.details?.code]).toEqual(["conflict", "invalid-lifecycle-transition"]);
    expect(caught(() => engine.archiveRevision(out.environment, { revision_id: ulid(999) }, ctx)).kind).toBe(
      "not-found",
    );
  });
  it("a failed revision (a rollout's breached candidate) is not drained, as in the reference's matrix, but archived straight", () => {
    const env = sampleEnvironment();
    env.traffic_splits[0]!.entries = [{ revision_id: REV_B, weight_bps: 10000 }];
    env.revisions[0]!.lifecycle = "failed";
    const refused = caught(() => engine.drainRevision(env, { revision_id: REV_A }, ctx));
    expect({ kind: refused.kind, message: refused.message, hint: refused.hint, details: refused.details }).toEqual({
      kind: "conflict",
      message: `revision ${REV_A} is failed; drain expects one of [ready]`,
      hint: `a failed revision is not drained: archive it (\`op revisions archive ${env.environment_id} ${REV_A}\`), which stops it and removes its files`,
      details: { code: "invalid-lifecycle-transition", revision_id: REV_A, lifecycle: "failed", expected: ["ready"] },
    });
    expect(env.revisions[0]!.lifecycle).toBe("failed");
    const out = engine.archiveRevision(env, { revision_id: REV_A }, ctx);
    expect(out.result.path).toEqual(["failed", "archived"]);
    expect(out.environment.revisions[0]!.lifecycle).toBe("archived");
    expect(out.environment.bundles[0]!.current_revisions).toEqual([REV_B]);
  });
});

describe("traffic verbs", () => {
  function withThree(): Environment {
    const env = sampleEnvironment();
    env.revisions.push(revision(ulid(3), "ready", 3, { warmed_at: NOW }));
    env.bundles[0]!.current_revisions.push(ulid(3));
    env.traffic_splits = [];
    return env;
  }
  it("the first split has generation 0; the next stashes it and bumps the generation", () => {
    const first = engine.setTraffic(
      withThree(),
      trafficPayload([{ revision_id: REV_A, weight_percent: 100 }]),
      context(LATER),
    );
    expect(first.result).toEqual({
      split: {
        schema: "greentic.traffic-split.v1",
        env_id: "local",
        deployment_id: DEP,
        bundle_id: "shop",
        generation: 0,
        entries: [{ revision_id: REV_A, weight_bps: 10000 }],
        updated_at: LATER,
        updated_by: "operator",
        idempotency_key: "k1",
        authorization_ref: "auth.json",
      },
      previous_generation: null,
      new_generation: 0,
      replayed: false,
    });
    const second = engine.setTraffic(
      first.environment,
      trafficPayload(
        [
          { revision_id: REV_A, weight_bps: 4950 },
          { revision_id: REV_B, weight_percent: 50.5 },
        ],
        "k2",
      ),
      ctx,
    );
    expect(second.result).toMatchObject({ previous_generation: 0, new_generation: 1, replayed: false });
    expect(second.result.split.entries).toEqual([
      { revision_id: REV_A, weight_bps: 4950 },
      { revision_id: REV_B, weight_bps: 5050 },
    ]);
    const stash = JSON.parse(Buffer.from(second.result.split.previous_split_ref!.slice(9), "base64url").toString());
    expect(stash).toEqual(first.result.split);
  });
  it("same key + same entries in another order is a no-op; same key + other entries is an idempotency conflict", () => {
    const a = engine.setTraffic(
      withThree(),
      trafficPayload([
        { revision_id: REV_A, weight_bps: 3000 },
        { revision_id: REV_B, weight_bps: 7000 },
      ]),
      ctx,
    );
    const replay = engine.setTraffic(
      a.environment,
      trafficPayload([
        { revision_id: REV_B, weight_percent: 70 },
        { revision_id: REV_A, weight_bps: 3000 },
      ]),
      context(LATER),
    );
    expect(replay.result).toEqual({
      split: a.result.split,
      previous_generation: null,
      new_generation: null,
      replayed: true,
    });
    expect(canonicalJson(replay.environment)).toBe(canonicalJson(a.environment));
    const err = caught(() =>
      engine.setTraffic(a.environment, trafficPayload([{ revision_id: REV_A, weight_bps: 10000 }]), ctx),
    );
    expect([err.kind, err.message]).toEqual([
      "idempotency-conflict",
      `idempotency key "k1" was already used for different traffic entries on deployment ${DEP}`,
    ]);
  });
  it("every entry must be a ready revision of the deployment", () => {
    const env = withThree();
    env.revisions[2]!.lifecycle = "staged";
    const err = caught(() =>
      engine.setTraffic(
        env,
        trafficPayload([
          { revision_id: REV_A, weight_bps: 5000 },
          { revision_id: ulid(3), weight_bps: 5000 },
        ]),
        ctx,
      ),
    );
    expect(err.kind).toBe("conflict");
    expect(err.message).toBe(
      `traffic can only go to ready revisions: revision ${ulid(3)} is staged; expected one of [ready]`,
    );
    expect(
      caught(() => engine.setTraffic(env, trafficPayload([{ revision_id: ulid(77), weight_bps: 10000 }]), ctx)).kind,
    ).toBe("not-found");
    const other = caught(() =>
      engine.setTraffic(
        env,
        { ...trafficPayload([{ revision_id: REV_A, weight_bps: 10000 }]), deployment_id: ulid(999) },
        ctx,
      ),
    );
    expect(other.kind).toBe("not-found");
  });
  it("weights are checked before anything is looked up", () => {
    const err = caught(() =>
      engine.setTraffic(
        withThree(),
        {
          environment_id: "local",
          deployment_id: ulid(999),
          entries: [{ revision_id: REV_A, weight_bps: 9999 }],
          idempotency_key: "k",
          updated_by: "op",
          authorization_ref: "auth.json",
        },
        ctx,
      ),
    );
    expect(err.kind).toBe("validation");
    expect(err.issues).toEqual([
      {
        path: "entries",
        code: "basis-points-sum",
        message: "weights sum to 9999 basis points; they must sum to exactly 10000",
      },
    ]);
  });
  it("rollback restores the previous split one step, with generation + 1 and rollback-<key>", () => {
    const a = engine.setTraffic(withThree(), trafficPayload([{ revision_id: REV_A, weight_bps: 10000 }], "k1"), ctx);
    const b = engine.setTraffic(a.environment, trafficPayload([{ revision_id: REV_B, weight_bps: 10000 }], "k2"), ctx);
    const rb = engine.rollbackTraffic(b.environment, { environment_id: "local", deployment_id: DEP }, context(LATER));
    expect(rb.result).toEqual({
      restored: { ...a.result.split, generation: 2, updated_at: LATER, idempotency_key: "rollback-k2" },
      previous_generation: 1,
      new_generation: 2,
    });
    expect("previous_split_ref" in rb.result.restored).toBe(false);
    const again = caught(() =>
      engine.rollbackTraffic(rb.environment, { environment_id: "local", deployment_id: DEP }, ctx),
    );
    expect([again.kind, again.details]).toEqual(["conflict", { code: "no-previous-snapshot" }]);
    const drained = engine.drainRevision(b.environment, { revision_id: REV_A }, ctx).environment;
    const notReady = caught(() =>
      engine.rollbackTraffic(drained, { environment_id: "local", deployment_id: DEP }, ctx),
    );
    expect(notReady.message).toBe(
      `cannot restore the previous split: revision ${REV_A} is draining; expected one of [ready]`,
    );
    expect(
      caught(() => engine.rollbackTraffic(withThree(), { environment_id: "local", deployment_id: DEP }, ctx)).kind,
    ).toBe("not-found");
  });
});

describe("projectRuntimeConfig and purity", () => {
  it("projects one block per split entry in order, null without splits", () => {
    const env = sampleEnvironment();
    env.revisions[1]!.pack_config_refs = ["revisions/b/pack-config.json"];
    expect(projectRuntimeConfig(env)).toEqual({
      schema: "greentic.runtime-config.v1",
      env_id: "local",
      revisions: [
        {
          deployment_id: DEP,
          revision_id: REV_A,
          bundle_id: "shop",
          pack_list_refs: [`revisions/${REV_A}/pack-list.lock`],
          pack_config_refs: [],
          weight_bps: 5000,
        },
        {
          deployment_id: DEP,
          revision_id: REV_B,
          bundle_id: "shop",
          pack_list_refs: [`revisions/${REV_B}/pack-list.lock`],
          pack_config_refs: ["revisions/b/pack-config.json"],
          weight_bps: 5000,
        },
      ],
    });
    expect(projectRuntimeConfig({ ...env, traffic_splits: [] })).toBeNull();
  });
  it("names no lock for an empty pack_list_lock_ref (src/environment/runtime_config.rs:55 of the reference)", () => {
    const env = sampleEnvironment();
    env.revisions[0]!.pack_list_lock_ref = "";
    const blocks = projectRuntimeConfig(env)!.revisions;
    expect(blocks.map((b) => b.pack_list_refs)).toEqual([[], [`revisions/${REV_B}/pack-list.lock`]]);
  });
  it("never mutates its input and gives the same output for the same input", () => {
    const env = sampleEnvironment();
    const before = canonicalJson(env);
    const run = () =>
      engine.setTraffic(env, trafficPayload([{ revision_id: REV_B, weight_bps: 10000 }], "k9"), context(LATER));
    const one = run();
    expect(canonicalJson(env)).toBe(before);
    expect(canonicalJson(run())).toBe(canonicalJson(one));
    expect(validateEnvironment(one.environment)).toEqual([]);
  });
});
