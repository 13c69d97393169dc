import { describe, expect, it } from "vitest";
import { auditTargetFor } from "./audit-target.js";

// Shapes of the reference's AuditCtx targets (greenticai/greentic-deployer@493448a, src/cli/*.rs).
describe("auditTargetFor", () => {
  it.each([
    ["env", "create", { environment_id: "prod" }, { environment_id: "prod" }], // env.rs:120
    ["env", "init", { environment_id: "local" }, { environment_id: "local", public_base_url_applied: false }], // env.rs:1973
    [
      "env",
      "update",
      { environment_id: "prod", region: { value: "eu" }, name: { clear: true }, idempotency_key: "k" },
      { environment_id: "prod", fields: ["name", "region"] },
    ], // env.rs:179
    ["config", "set", { environment_id: "local", region: "eu" }, { fields: ["region"] }], // config.rs:161
    ["env-packs", "add", { slot: "state", kind: "a.b@1.0.0" }, { slot: "state", kind: "a.b@1.0.0" }], // env_packs.rs:81
    ["env-packs", "remove", { slot: "state" }, { slot: "state" }], // env_packs.rs:175
    [
      "bundles",
      "add",
      {
        bundle_id: "shop",
        customer_id: "acme",
        revenue_share: [{ party_id: "g", basis_points: 10000 }],
        config_overrides: { p: { api_url: "https://x/SECRET", retry: 3 } },
      },
      {
        bundle_id: "shop",
        customer_id: "acme",
        revenue_share: [{ party_id: "g", basis_points: 10000 }],
        config_overrides: { p: ["api_url", "retry"] },
      },
    ], // bundles.rs:191, keys only (bundles.rs:1358)
    ["bundles", "update", { deployment_id: "D" }, { deployment_id: "D" }], // bundles.rs:274
    ["bundles", "remove", { deployment_id: "D" }, { deployment_id: "D" }], // bundles.rs:344
    ["revisions", "stage", { deployment_id: "D" }, { deployment_id: "D", lifecycle_to: "staged" }], // revisions.rs:215
    ["revisions", "warm", { revision_id: "R" }, { revision_id: "R", lifecycle_to: "ready" }], // revisions.rs:461
    ["revisions", "archive", { revision_id: "R" }, { revision_id: "R", lifecycle_to: "archived" }], // revisions.rs:646
    ["traffic", "set", { deployment_id: "D", entries: [] }, { deployment_id: "D" }], // traffic.rs:148
    ["traffic", "rollback", { deployment_id: "D" }, { deployment_id: "D" }], // traffic.rs:423
    ["secrets", "put", { name: "app/key", value: "v" }, { path: "app/key" }], // secrets.rs:160
  ])("%s %s", (noun, verb, payload, target) => {
    expect(auditTargetFor(noun, verb, payload)).toEqual(target);
    expect(JSON.stringify(auditTargetFor(noun, verb, payload))).not.toContain("SECRET");
  });
  it("is undefined for a verb the reference does not have", () => {
    expect(auditTargetFor("single-vm", "apply", {})).toBeUndefined();
  });
});
