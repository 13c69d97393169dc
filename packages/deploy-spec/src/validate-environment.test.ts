import { describe, expect, it } from "vitest";
import { DEP, NOW, REV_A, REV_B, revision, sampleEnvironment, ulid } from "../test/fixtures.js";
import type { Environment, MessagingEndpoint } from "./documents.js";
import { parseEnvironment, validateEnvironment } from "./validate-environment.js";

const DEP2 = ulid(101);
const codes = (env: unknown) => validateEnvironment(env).map((i) => [i.path, i.code]);

function secondDeployment(env: Environment, bundleId = "blog"): Environment {
  env.bundles.push({
    ...structuredClone(env.bundles[0]!),
    deployment_id: DEP2,
    bundle_id: bundleId,
    current_revisions: [],
  });
  return env;
}

function endpoint(overrides: Partial<MessagingEndpoint> = {}): MessagingEndpoint {
  return {
    schema: "greentic.messaging-endpoint.v1",
    env_id: "local",
    endpoint_id: ulid(7),
    provider_id: "slack-main",
    provider_type: "slack",
    display_name: "Slack",
    secret_refs: [],
    linked_bundles: ["shop"],
    generation: 0,
    created_at: NOW,
    updated_at: NOW,
    updated_by: "op",
    ...overrides,
  };
}

describe("validateEnvironment", () => {
  it("accepts the sample environment", () => {
    expect(validateEnvironment(sampleEnvironment())).toEqual([]);
  });
  it("returns schema issues first and skips cross-references then", () => {
    const env = sampleEnvironment() as unknown as Record<string, unknown>;
    delete env.packs;
    expect(validateEnvironment(env)).toEqual([
      { path: "packs", code: "missing-field", message: "required field is missing (expected array)" },
    ]);
  });
  it("host_config.env_id must equal environment_id", () => {
    const env = sampleEnvironment();
    env.host_config.env_id = "prod";
    expect(validateEnvironment(env)).toEqual([
      {
        path: "host_config.env_id",
        code: "env-id-mismatch",
        message: 'host_config belongs to environment "prod", not "local"',
      },
    ]);
  });
  it("one binding per slot, and messaging/extension are not pack slots", () => {
    const env = sampleEnvironment();
    env.packs.push(
      { ...env.packs[0]! },
      { slot: "messaging", kind: "greentic.messaging.slack@1.0.0", pack_ref: "x", generation: 0 },
    );
    expect(validateEnvironment(env)).toEqual([
      {
        path: "packs.2.slot",
        code: "duplicate-capability-slot",
        message: "slot deployer is bound twice (packs 0 and 2)",
      },
      {
        path: "packs.3.slot",
        code: "not-pack-slot",
        message: "slot messaging is not bound through packs (it has its own collection)",
      },
    ]);
  });
  it("credentials_ref must stay in the environment", () => {
    const env = sampleEnvironment();
    env.credentials_ref = "secret://prod/deployer";
    expect(validateEnvironment(env)).toEqual([
      {
        path: "credentials_ref",
        code: "cross-env-ref",
        message: 'secret reference "secret://prod/deployer" points at environment "prod", not "local"',
      },
    ]);
    env.credentials_ref = "secret://local/deployer";
    expect(validateEnvironment(env)).toEqual([]);
  });
  it("nested documents carry the same env id", () => {
    const env = sampleEnvironment();
    env.revisions[0]!.env_id = "prod";
    env.bundles[0]!.env_id = "prod";
    env.traffic_splits[0]!.env_id = "prod";
    expect(codes(env)).toEqual([
      ["revisions.0.env_id", "env-id-mismatch"],
      ["bundles.0.env_id", "env-id-mismatch"],
      ["traffic_splits.0.env_id", "env-id-mismatch"],
    ]);
  });
  it("nested documents carry the right schema", () => {
    const env = sampleEnvironment() as unknown as { revisions: { schema: string }[] };
    env.revisions[0]!.schema = "greentic.traffic-split.v1";
    expect(codes(env)).toEqual([["revisions.0.schema", "schema-mismatch"]]);
  });
  it("revision ids, deployment ids and (bundle, customer) pairs are unique", () => {
    const env = sampleEnvironment();
    env.revisions.push(revision(REV_A, "staged", 3));
    env.bundles.push({ ...structuredClone(env.bundles[0]!), current_revisions: [] });
    expect(codes(env)).toEqual([
      ["revisions.2.revision_id", "duplicate-revision"],
      ["bundles.1.deployment_id", "duplicate-deployment"],
      ["bundles.1", "duplicate-bundle-customer"],
    ]);
  });
  it("each revision belongs to an existing deployment of the same bundle", () => {
    const env = sampleEnvironment();
    env.revisions.push(
      revision(ulid(3), "staged", 3, { deployment_id: DEP2 }),
      revision(ulid(4), "staged", 4, { bundle_id: "blog" }),
    );
    expect(codes(env)).toEqual([
      ["revisions.2.deployment_id", "unknown-deployment"],
      ["revisions.3.bundle_id", "revision-deployment-bundle-mismatch"],
    ]);
  });
  it("current_revisions exist and match deployment and bundle", () => {
    const env = secondDeployment(sampleEnvironment());
    env.revisions.push(revision(ulid(5), "staged", 1, { deployment_id: DEP2, bundle_id: "blog" }));
    env.bundles[0]!.current_revisions.push(ulid(99), ulid(5));
    expect(validateEnvironment(env)).toEqual([
      {
        path: "bundles.0.current_revisions.2",
        code: "unknown-revision",
        message: `deployment ${DEP} lists revision ${ulid(99)}, which does not exist`,
      },
      {
        path: "bundles.0.current_revisions.3",
        code: "bundle-revision-wrong-deployment",
        message: `revision ${ulid(5)} belongs to deployment ${DEP2}, not ${DEP}`,
      },
    ]);
  });
  it("a current revision of another bundle is reported as wrong bundle", () => {
    // Same deployment id, different bundle: only possible in a corrupted document.
    const env = sampleEnvironment();
    env.revisions[1]!.bundle_id = "blog";
    expect(codes(env)).toEqual([
      ["revisions.1.bundle_id", "revision-deployment-bundle-mismatch"],
      ["bundles.0.current_revisions.1", "bundle-revision-wrong-bundle"],
      ["traffic_splits.0.entries.1.revision_id", "split-revision-wrong-bundle"],
    ]);
  });
  it("config_overrides packs must be in a live revision's pack list (if any)", () => {
    const env = sampleEnvironment();
    env.bundles[0]!.config_overrides = { "greentic.shop": { a: 1 }, "greentic.other": { b: 2 } };
    expect(validateEnvironment(env)).toEqual([
      {
        path: "bundles.0.config_overrides.greentic.other",
        code: "config-override-pack-not-in-revisions",
        message: `config override for pack "greentic.other", which no live revision of deployment ${DEP} contains (known: greentic.shop)`,
      },
    ]);
    // Archived revisions do not count; with no live pack list, anything is accepted.
    const empty = sampleEnvironment();
    empty.revisions.forEach((r) => (r.pack_list = []));
    empty.bundles[0]!.config_overrides = { "greentic.other": { b: 2 } };
    expect(validateEnvironment(empty)).toEqual([]);
  });
  it("split references: deployment exists, bundles match, revisions exist in that deployment", () => {
    const env = secondDeployment(sampleEnvironment());
    env.revisions.push(revision(ulid(5), "ready", 1, { deployment_id: DEP2, bundle_id: "blog" }));
    const split = env.traffic_splits[0]!;
    env.traffic_splits.push(
      { ...split, deployment_id: ulid(102) },
      { ...split, deployment_id: DEP2, bundle_id: "shop", entries: [{ revision_id: ulid(5), weight_bps: 10000 }] },
    );
    split.entries = [
      { revision_id: ulid(99), weight_bps: 5000 },
      { revision_id: ulid(5), weight_bps: 5000 },
    ];
    expect(codes(env)).toEqual([
      ["traffic_splits.0.entries.0.revision_id", "unknown-revision"],
      ["traffic_splits.0.entries.1.revision_id", "split-revision-wrong-deployment"],
      ["traffic_splits.1.deployment_id", "unknown-deployment"],
      // split 1 keeps the original entries (revisions of DEP), so both point at the wrong deployment
      ["traffic_splits.1.entries.0.revision_id", "split-revision-wrong-deployment"],
      ["traffic_splits.1.entries.1.revision_id", "split-revision-wrong-deployment"],
      ["traffic_splits.2.bundle_id", "split-deployment-bundle-mismatch"],
      ["traffic_splits.2.entries.0.revision_id", "split-revision-wrong-bundle"],
    ]);
  });
  it("one split per deployment", () => {
    const env = sampleEnvironment();
    env.traffic_splits.push(structuredClone(env.traffic_splits[0]!));
    expect(codes(env)).toEqual([["traffic_splits.1.deployment_id", "duplicate-split"]]);
  });
  it("lifecycle is not checked here (split entries may be non-ready)", () => {
    const env = sampleEnvironment();
    env.revisions[0]!.lifecycle = "draining";
    expect(validateEnvironment(env)).toEqual([]);
  });
  it("messaging endpoints: unique ids and providers, env-scoped secrets, linked bundles, welcome flow", () => {
    const env = sampleEnvironment();
    env.messaging_endpoints.push(
      endpoint({ secret_refs: ["secret://prod/slack"], webhook_secret_ref: "secret://prod/hook" }),
      endpoint({ linked_bundles: ["blog"], welcome_flow: { bundle_id: "shop", pack_id: "p", flow_id: "f" } }),
    );
    expect(codes(env)).toEqual([
      ["messaging_endpoints.0.secret_refs.0", "cross-env-ref"],
      ["messaging_endpoints.0.webhook_secret_ref", "cross-env-ref"],
      ["messaging_endpoints.1.endpoint_id", "duplicate-messaging-endpoint"],
      ["messaging_endpoints.1", "duplicate-provider-instance"],
      ["messaging_endpoints.1.linked_bundles.0", "messaging-endpoint-bundle-not-linked"],
      ["messaging_endpoints.1.welcome_flow.bundle_id", "welcome-flow-bundle-not-linked"],
    ]);
  });
  it("messaging endpoints need non-empty provider ids and flow ids", () => {
    const env = sampleEnvironment();
    env.messaging_endpoints.push(
      endpoint({ provider_id: "", provider_type: "", welcome_flow: { bundle_id: "shop", pack_id: "p", flow_id: "" } }),
    );
    expect(codes(env)).toEqual([
      ["messaging_endpoints.0.provider_id", "empty-messaging-provider-id"],
      ["messaging_endpoints.0.provider_type", "empty-messaging-provider-type"],
      ["messaging_endpoints.0.welcome_flow.flow_id", "empty-welcome-flow-id"],
    ]);
  });
  it("extensions: (path, instance) is unique, a bare and a named instance coexist", () => {
    const env = sampleEnvironment();
    env.extensions.push(
      { kind: "acme.audit@1.0.0", pack_ref: "a", generation: 0 },
      { kind: "acme.audit@1.0.0", pack_ref: "b", instance_id: "eu", generation: 0 },
      { kind: "acme.audit@2.0.0", pack_ref: "c", generation: 0 },
    );
    expect(validateEnvironment(env)).toEqual([
      { path: "extensions.2", code: "duplicate-extension", message: "extension acme.audit@2.0.0 is bound twice" },
    ]);
    const bad = sampleEnvironment();
    bad.extensions.push({ kind: "acme.audit@1.0.0", pack_ref: "a", instance_id: "EU", generation: 0 });
    expect(codes(bad)).toEqual([["extensions.0.instance_id", "invalid-format"]]);
  });
  it("parseEnvironment gives a one-line summary with the source", () => {
    const env = sampleEnvironment();
    env.traffic_splits[0]!.entries[0]!.revision_id = ulid(99);
    const r = parseEnvironment(env, { source: "environments/local/environment.json" });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.summary).toBe(
      `environments/local/environment.json: traffic_splits.0.entries.0.revision_id: traffic split references revision ${ulid(99)}, which does not exist`,
    );
    expect(parseEnvironment(sampleEnvironment())).toEqual({ ok: true, value: sampleEnvironment() });
    void REV_B;
  });
});
