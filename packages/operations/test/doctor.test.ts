import { GreenticError, engine } from "@greentic/deploy-spec";
import { doctorEnvironment, type EnvPackHandler } from "@greentic/env-packs";
import { describe, expect, it } from "vitest";
import { createOperationsRegistry } from "../src/index.js";
import { contextFor, testDir } from "../../../scripts/test-support/handler-context.ts";

// The doctor of @greentic/env-packs against the registry operations composes: the five small
// built-ins plus the lazily registered deployers.
const createDefaultRegistry = createOperationsRegistry;

const ctx = { now: "2026-05-20T12:00:00Z", newId: () => "01JAAAAAAAAAAAAAAAAAAAAAAA" };
const now = () => new Date("2026-05-20T12:00:00Z");

function freshLocal() {
  return engine.initLocalEnvironment(undefined, { environment_id: "local" }, ctx).environment;
}

describe("doctorEnvironment", () => {
  it("reports nothing missing for a fresh local environment with the six defaults", async () => {
    const report = await doctorEnvironment(freshLocal(), createDefaultRegistry({ plugins: [] }), {
      runPreflight: true,
      now,
    });
    expect(report).toMatchObject({
      environment_id: "local",
      validate: { status: "ok" },
      bound_slots: ["deployer", "secrets", "telemetry", "sessions", "state", "revocation"],
      missing_slots: [],
      unknown_kinds: [],
      slot_mismatches: [],
      version_skew: [],
      stale_revisions: [],
      checked_at: "2026-05-20T12:00:00.000Z",
    });
    const deployerChecks = report.preflight.find((p) => p.slot === "deployer")!.checks;
    expect(deployerChecks.map((c) => c.name)).toEqual(["node-version", "runtime-built"]);
  });

  it("collects every problem in one report instead of stopping at the first", async () => {
    const env = freshLocal();
    env.packs = [
      { slot: "deployer", kind: "greentic.secrets.dev-store@0.1.0", pack_ref: "x", generation: 0 },
      { slot: "secrets", kind: "greentic.secrets.dev-store@9.0.0", pack_ref: "x", generation: 0 },
      { slot: "telemetry", kind: "acme.telemetry.unknown@1.0.0", pack_ref: "x", generation: 0 },
    ];
    const registry = createDefaultRegistry({ plugins: [] });
    registry.register({
      slot: "state",
      descriptorPath: "acme.state.flaky",
      supportedVersions: "*",
      description: "t",
      state: { get: async () => undefined, set: async () => {}, delete: async () => false, list: async () => [] },
      preflight: () => [
        { name: "slow", timeoutMs: 50, installHint: "install the probe", run: () => new Promise(() => {}) },
        {
          name: "bad",
          timeoutMs: 1000,
          installHint: "fix it",
          run: async () => ({ ok: false, detail: "tool missing" }),
        },
      ],
    } satisfies EnvPackHandler);
    env.packs.push({ slot: "state", kind: "acme.state.flaky@1.0.0", pack_ref: "x", generation: 0 });
    const report = await doctorEnvironment(env, registry, { runPreflight: true, now });
    expect(report.missing_slots).toEqual(["sessions", "revocation"]);
    expect(report.slot_mismatches).toEqual([
      { kind: "greentic.secrets.dev-store@0.1.0", bound_slot: "deployer", handler_slot: "secrets" },
    ]);
    expect(report.version_skew).toEqual([
      { kind: "greentic.secrets.dev-store@9.0.0", requested: "9.0.0", supported: "^0.1.0" },
    ]);
    expect(report.unknown_kinds.map((k) => [k.kind, k.code])).toEqual([
      ["acme.telemetry.unknown@1.0.0", "unknown-kind"],
    ]);
    expect(report.failing_preflights.map((f) => [f.name, f.install_hint])).toEqual([
      ["slow", "install the probe"],
      ["bad", "fix it"],
    ]);
    expect(report.healthy).toBe(false);
  });

  it("reports a corrupted store (load error) without throwing", async () => {
    const loadError = new GreenticError("integrity", "environment.json digest mismatch", { path: "environment.json" });
    const report = await doctorEnvironment(
      { environment_id: "local", loadError },
      createDefaultRegistry({ plugins: [] }),
      { now },
    );
    expect(report.validate).toEqual({
      status: "error",
      message: "the environment could not be loaded: environment.json digest mismatch",
    });
    expect(report.healthy).toBe(false);
  });

  it("reports a broken plugin as a resolution error, and invalid documents in validate", async () => {
    const env = freshLocal();
    env.packs.push({ slot: "extension", kind: "acme.extension.x@1.0.0", pack_ref: "x", generation: 0 } as never);
    const registry = createDefaultRegistry({ plugins: ["definitely-missing-plugin"], resolveFrom: await testDir() });
    const report = await doctorEnvironment(env, registry, { now });
    expect(report.resolution_errors.map((e) => e.code)).toEqual(["plugin-missing"]);
    expect(report.validate.status).toBe("error");
  });

  it("flags stale revisions: recorded ready but not running on the host", async () => {
    const env = freshLocal();
    const revisions = [
      { revision_id: "01JREVAAAAAAAAAAAAAAAAAAA1", deployment_id: "01JDEP", bundle_id: "hello", lifecycle: "ready" },
      { revision_id: "01JREVAAAAAAAAAAAAAAAAAAA2", deployment_id: "01JDEP", bundle_id: "hello", lifecycle: "archived" },
    ];
    const report = await doctorEnvironment({ ...env, revisions } as never, createDefaultRegistry({ plugins: [] }), {
      now,
      context: contextFor(await testDir()),
    });
    expect(report.stale_revisions).toEqual([
      expect.objectContaining({
        revision_id: "01JREVAAAAAAAAAAAAAAAAAAA1",
        lifecycle: "ready",
        deployer_state: "absent",
        fix: expect.any(String),
      }),
    ]);
  });
});
