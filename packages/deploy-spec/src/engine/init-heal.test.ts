import { describe, expect, it } from "vitest";
import { context } from "../../test/fixtures.js";
import { LOCAL_DEFAULT_BINDINGS } from "../slots.js";
import { engine } from "./index.js";

/** An environment as the reference's `op env init` makes it: its five default bindings. */
function referenceInit() {
  const ours = engine.initLocalEnvironment(undefined, { environment_id: "local" }, context()).environment;
  return { ...ours, packs: ours.packs.filter((p) => p.slot !== "revocation") };
}

describe("env init on an environment the reference created", () => {
  it("answers untouched, names the slot it could add, and leaves the environment as it was", () => {
    const env = referenceInit();
    const out = engine.initLocalEnvironment(env, { environment_id: "local" }, context());
    expect(out.result).toEqual({
      environment_id: "local",
      bound_slots: ["deployer", "secrets", "telemetry", "sessions", "state"],
      pack_count: 5,
      public_base_url: null,
      outcome: "untouched",
      healable_slots: ["revocation"],
    });
    expect(out.environment).toEqual(env);
  });

  it("binds revocation when asked to heal", () => {
    const out = engine.initLocalEnvironment(referenceInit(), { environment_id: "local", heal: true }, context());
    expect([out.result.outcome, out.result.added_slots]).toEqual(["healed", ["revocation"]]);
    expect(out.environment.packs.map((p) => p.slot)).toEqual(LOCAL_DEFAULT_BINDINGS.map((b) => b.slot));
  });

  it("still heals the reference's own default slots, as the reference does", () => {
    const env = referenceInit();
    env.packs = env.packs.filter((p) => p.slot !== "telemetry");
    const out = engine.initLocalEnvironment(env, { environment_id: "local" }, context());
    expect([out.result.outcome, out.result.added_slots]).toEqual(["healed", ["telemetry"]]);
    expect(out.environment.packs.some((p) => p.slot === "revocation")).toBe(false);
  });

  it("an environment of ours with all six is untouched without healable slots", () => {
    const ours = engine.initLocalEnvironment(undefined, { environment_id: "local" }, context()).environment;
    const out = engine.initLocalEnvironment(ours, { environment_id: "local" }, context());
    expect(out.result.outcome).toBe("untouched");
    expect("healable_slots" in out.result).toBe(false);
  });
});
