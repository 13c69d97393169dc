import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { DEP, NOW, REV_A, revision, sampleEnvironment, ulid } from "../test/fixtures.js";
import { canonicalDigest, canonicalJson } from "./canonical.js";
import {
  AuditEventSchema,
  BackupArtifactSchema,
  BackupManifestSchema,
  BundleDeploymentSchema,
  CredentialsSchema,
  EnvironmentRuntimeSchema,
  EnvironmentSchema,
  MessagingEndpointSchema,
  PackConfigSchema,
  PackListLockSchema,
  RevenuePolicyDocumentSchema,
  RevisionSchema,
  RuntimeConfigSchema,
  TrafficSplitSchema,
} from "./documents.js";
import { parseDocument } from "./validation.js";

const HEX = "d".repeat(64);

/** Reverses key order at every level: same document, different serialization. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((k) => [k, reverseKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

const env = sampleEnvironment();
const samples: [string, z.ZodType, unknown][] = [
  ["environment", EnvironmentSchema, env],
  ["revision", RevisionSchema, env.revisions[0]],
  ["traffic split", TrafficSplitSchema, env.traffic_splits[0]],
  [
    "bundle deployment",
    BundleDeploymentSchema,
    {
      ...env.bundles[0],
      usage: { meter_endpoint: "https://meter", last_seen_at: NOW },
      config_overrides: { "greentic.shop": { theme: "dark", limits: { rps: 5 } } },
    },
  ],
  [
    "credentials",
    CredentialsSchema,
    {
      schema: "greentic.credentials.v1",
      env_id: "local",
      deployer_kind: "greentic.deployer.local-process@0.1.0",
      mode: "bootstrap",
      provided_credentials_ref: "secret://local/deployer/creds",
      validation: { last_run_at: NOW, result: "pass", missing_capabilities: [] },
      bootstrap: {
        admin_credential_consumed_at: NOW,
        rules_pack_ref: "rules.gtpack",
        generated_credentials_ref: "secret://local/deployer/generated",
      },
      expiry: { expires_at: "2027-07-01T00:00:00Z", rotate_at: "2027-05-01T00:00:00Z" },
    },
  ],
  [
    "environment runtime",
    EnvironmentRuntimeSchema,
    {
      schema: "greentic.environment-runtime.v1",
      environment_id: "local",
      discovered: { endpoint: "http://127.0.0.1:8080", nested: { a: [1, 2] } },
      generated_at: NOW,
      generated_by: "greentic.deployer.local-process@0.1.0",
      generation: 3,
    },
  ],
  [
    "runtime config",
    RuntimeConfigSchema,
    {
      schema: "greentic.runtime-config.v1",
      env_id: "local",
      revisions: [
        {
          deployment_id: DEP,
          revision_id: REV_A,
          bundle_id: "shop",
          pack_list_refs: ["revisions/x/pack-list.lock"],
          pack_config_refs: [],
          weight_bps: 10000,
        },
      ],
    },
  ],
  [
    "audit event",
    AuditEventSchema,
    {
      schema: "greentic.audit.event.v1",
      event_id: ulid(9),
      ts: NOW,
      actor: { kind: "local-user", user: "root", uid: 0 },
      env_id: "local",
      noun: "traffic",
      verb: "set",
      target: { deployment_id: DEP },
      previous_generation: 0,
      new_generation: 1,
      idempotency_key: "k1",
      authorization: { decision: "allow", policy: "local-only", reason: "env `local` is the local env" },
      result: { outcome: "error", kind: "conflict", message: "nope" },
      prev_hash: HEX,
    },
  ],
  [
    "backup manifest",
    BackupManifestSchema,
    {
      schema: "greentic.backup-manifest.v1",
      backup_id: "b1",
      env_id: "local",
      created_at: NOW,
      generation: 4,
      integrity: { algorithm: "sha-256", digest: HEX },
      size_bytes: 1234,
    },
  ],
  [
    "backup artifact",
    BackupArtifactSchema,
    {
      schema: "greentic.backup-artifact.v1",
      manifest: {
        schema: "greentic.backup-manifest.v1",
        backup_id: "b1",
        env_id: "local",
        created_at: NOW,
        generation: 4,
        integrity: { algorithm: "sha-256", digest: HEX },
        size_bytes: 1234,
      },
      snapshot: { environment: {}, runtime: null },
      snapshot_digest: HEX,
    },
  ],
  [
    "pack config",
    PackConfigSchema,
    {
      schema: "greentic.pack-config.v1",
      pack_id: "greentic.shop",
      revision_id: REV_A,
      non_secret: { a: 1 },
      secret_refs: { key: "secret://local/shop/key" },
      runtime_refs: { url: "runtime://local/shop/url" },
    },
  ],
  [
    "pack list lock",
    PackListLockSchema,
    {
      schema: "greentic.pack-list-lock.v1",
      revision_id: REV_A,
      packs: [{ pack_id: "greentic.shop", path: "packs/shop.gtpack", digest: `sha256:${HEX}` }],
    },
  ],
  [
    "messaging endpoint",
    MessagingEndpointSchema,
    {
      schema: "greentic.messaging-endpoint.v1",
      env_id: "local",
      endpoint_id: ulid(7),
      provider_id: "slack-main",
      provider_type: "slack",
      display_name: "Slack",
      secret_refs: ["secret://local/slack/token"],
      webhook_secret_ref: "secret://local/slack/webhook",
      linked_bundles: ["shop"],
      welcome_flow: { bundle_id: "shop", pack_id: "greentic.shop", flow_id: "welcome" },
      generation: 1,
      created_at: NOW,
      updated_at: NOW,
      updated_by: "operator",
    },
  ],
  [
    "revenue policy",
    RevenuePolicyDocumentSchema,
    {
      schema: "greentic.revenue-policy.v1",
      version: 2,
      deployment_id: DEP,
      env_id: "local",
      bundle_id: "shop",
      customer_id: "local-dev",
      revenue_share: [
        { party_id: "greentic", basis_points: 2000 },
        { party_id: "acme", basis_points: 8000 },
      ],
      created_at: NOW,
      previous_version_ref: "billing-policies/shop/local-dev/v1.json",
    },
  ],
];

describe("document round trips", () => {
  for (const [name, schema, doc] of samples) {
    it(`${name}: parse(serialize(x)) equals x and the digest ignores key order`, () => {
      const first = parseDocument(schema, doc);
      expect(first).toEqual({ ok: true, value: doc });
      const again = parseDocument(schema, JSON.parse(JSON.stringify(first.ok ? first.value : null)));
      expect(again.ok && again.value).toEqual(doc);
      const reordered = reverseKeys(doc);
      expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(doc));
      expect(canonicalDigest(reordered)).toBe(canonicalDigest(doc));
      expect(canonicalJson(parseDocument(schema, reordered).ok ? reordered : null)).toBe(canonicalJson(doc));
    });
    it(`${name}: keeps an unknown top-level field (a newer reference may add one)`, () => {
      const r = parseDocument(schema, { ...(doc as object), surprise: { added: [1, null] } });
      expect(r).toEqual({ ok: true, value: { ...(doc as object), surprise: { added: [1, null] } } });
    });
  }
});

describe("reference documents with optional fields absent", () => {
  it("fills [] and default blocks for a minimal environment", () => {
    const r = parseDocument(EnvironmentSchema, {
      schema: "greentic.environment.v1",
      environment_id: "local",
      name: "local",
      host_config: { env_id: "local" },
      packs: [],
    });
    expect(r).toEqual({
      ok: true,
      value: {
        schema: "greentic.environment.v1",
        environment_id: "local",
        name: "local",
        host_config: { env_id: "local" },
        packs: [],
        bundles: [],
        revisions: [],
        traffic_splits: [],
        messaging_endpoints: [],
        extensions: [],
        revocation: { required: false },
        retention: {},
        health: { state: "unknown" },
      },
    });
  });
  it("fills revision defaults and keeps absent optionals absent", () => {
    const {
      pack_config_refs: _a,
      drain_seconds: _b,
      abort_metrics: _c,
      staged_at: _d,
      ...minimal
    } = revision(REV_A, "staged", 1);
    const r = parseDocument(RevisionSchema, minimal);
    expect(r.ok && r.value).toEqual({ ...minimal, pack_config_refs: [], drain_seconds: 0, abort_metrics: [] });
    expect(r.ok && "staged_at" in r.value).toBe(false);
  });
  it("accepts the env generation and the audit prev_hash extensions, strictly typed", () => {
    expect(parseDocument(EnvironmentSchema, { ...env, generation: 7 }).ok).toBe(true);
    const bad = parseDocument(EnvironmentSchema, { ...env, generation: -1 });
    expect(!bad.ok && bad.issues.map((i) => [i.path, i.code])).toEqual([["generation", "too-small"]]);
    const audit = samples.find(([n]) => n === "audit event")![2] as Record<string, unknown>;
    const badHash = parseDocument(AuditEventSchema, { ...audit, prev_hash: "ABC" });
    expect(!badHash.ok && badHash.issues).toEqual([
      { path: "prev_hash", code: "invalid-format", message: '"ABC" is not 64 lowercase hex characters' },
    ]);
  });
});

describe("issues name the field and value", () => {
  it("reports a schema mismatch", () => {
    const r = parseDocument(
      EnvironmentSchema,
      { ...env, schema: "greentic.environment.v2" },
      { source: "environment.json" },
    );
    expect(r).toMatchObject({
      ok: false,
      issues: [
        {
          path: "schema",
          code: "schema-mismatch",
          message: '"greentic.environment.v2" is not "greentic.environment.v1"',
        },
      ],
    });
    expect(!r.ok && r.summary).toBe(
      'environment.json: schema: "greentic.environment.v2" is not "greentic.environment.v1"',
    );
  });
  it("reports split weights with basis-point codes at their paths", () => {
    const split = env.traffic_splits[0]!;
    const bad = {
      ...split,
      entries: [
        { revision_id: REV_A, weight_bps: 4294967295 },
        { revision_id: ulid(2), weight_bps: 10001 },
      ],
    };
    const r = parseDocument(TrafficSplitSchema, bad);
    expect(!r.ok && r.issues).toEqual([
      {
        path: "entries.0.weight_bps",
        code: "basis-points-entry-too-large",
        message: "weight 4294967295 exceeds 10000 basis points",
      },
      {
        path: "entries.1.weight_bps",
        code: "basis-points-entry-too-large",
        message: "weight 10001 exceeds 10000 basis points",
      },
    ]);
    const sum = parseDocument(TrafficSplitSchema, { ...split, entries: [{ revision_id: REV_A, weight_bps: 9999 }] });
    expect(!sum.ok && sum.issues).toEqual([
      {
        path: "entries",
        code: "basis-points-sum",
        message: "weights sum to 9999 basis points; they must sum to exactly 10000",
      },
    ]);
    const nan = parseDocument(TrafficSplitSchema, {
      ...split,
      entries: [{ revision_id: REV_A, weight_bps: Number.NaN }],
    });
    expect(!nan.ok && nan.issues).toEqual([
      { path: "entries.0.weight_bps", code: "not-a-number", message: "expected number, got NaN" },
    ]);
    const str = parseDocument(TrafficSplitSchema, { ...split, entries: [{ revision_id: REV_A, weight_bps: "10000" }] });
    expect(!str.ok && str.issues).toEqual([
      { path: "entries.0.weight_bps", code: "invalid-type", message: 'expected number, got string "10000"' },
    ]);
    const neg = parseDocument(TrafficSplitSchema, {
      ...split,
      entries: [
        { revision_id: REV_A, weight_bps: -1 },
        { revision_id: ulid(2), weight_bps: 10001 },
      ],
    });
    expect(!neg.ok && neg.issues.map((i) => i.code)).toEqual(["weight-negative", "basis-points-entry-too-large"]);
  });
  it("reports descriptor, ULID, missing field and public URL problems", () => {
    const r = parseDocument(EnvironmentSchema, {
      ...env,
      host_config: { env_id: "local", public_base_url: "https://x.example/app" },
      packs: [{ slot: "deployer", kind: "Greentic.deployer@0.1.0", pack_ref: "x" }],
      revisions: [{ ...env.revisions[0], revision_id: "not-a-ulid" }, env.revisions[1]],
    });
    expect(!r.ok && r.issues).toEqual([
      {
        path: "host_config.public_base_url",
        code: "invalid-public-base-url",
        message: 'public_base_url "https://x.example/app" must not have a path (got "/app")',
      },
      {
        path: "packs.0.kind",
        code: "invalid-path-char",
        message: 'pack descriptor path "Greentic.deployer" contains "G"; only a-z, 0-9, "-" and "." are allowed',
      },
      {
        path: "revisions.0.revision_id",
        code: "invalid-format",
        message: '"not-a-ulid" is not a ULID (26 Crockford base32 characters, upper case)',
      },
    ]);
    const missing = parseDocument(RevisionSchema, { ...env.revisions[0], bundle_digest: undefined });
    expect(!missing.ok && missing.issues).toEqual([
      { path: "bundle_digest", code: "missing-field", message: "required field is missing (expected string)" },
    ]);
  });
  it("enforces config override caps", () => {
    const dep = env.bundles[0]!;
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, { k: 1 }]));
    const r = parseDocument(BundleDeploymentSchema, { ...dep, config_overrides: many });
    expect(!r.ok && r.issues).toEqual([
      {
        path: "config_overrides",
        code: "config-overrides-too-many-packs",
        message: "33 packs have overrides; at most 32 are allowed",
      },
    ]);
    const keys = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    const r2 = parseDocument(BundleDeploymentSchema, { ...dep, config_overrides: { p: keys } });
    expect(!r2.ok && r2.issues.map((i) => [i.path, i.code])).toEqual([
      ["config_overrides.p", "config-overrides-too-many-keys-for-pack"],
    ]);
    const r3 = parseDocument(BundleDeploymentSchema, {
      ...dep,
      config_overrides: { p: { big: "x".repeat(16 * 1024) } },
    });
    expect(!r3.ok && r3.issues.map((i) => i.code)).toEqual(["config-overrides-too-large"]);
    const r4 = parseDocument(BundleDeploymentSchema, { ...dep, config_overrides: { "": { a: 1 }, q: { "": 2 } } });
    expect(!r4.ok && r4.issues.map((i) => i.code)).toEqual([
      "config-override-empty-pack-id",
      "config-override-empty-key",
    ]);
  });
  it("requires revenue shares to sum to 10000 and policy versions >= 1", () => {
    const dep = env.bundles[0]!;
    const r = parseDocument(BundleDeploymentSchema, {
      ...dep,
      revenue_share: [{ party_id: "greentic", basis_points: 9000 }],
    });
    expect(!r.ok && r.issues).toEqual([
      {
        path: "revenue_share",
        code: "basis-points-sum",
        message: "weights sum to 9000 basis points; they must sum to exactly 10000",
      },
    ]);
    const policy = samples.find(([n]) => n === "revenue policy")![2] as Record<string, unknown>;
    const v0 = parseDocument(RevenuePolicyDocumentSchema, { ...policy, version: 0 });
    expect(!v0.ok && v0.issues).toEqual([
      { path: "version", code: "revenue-policy-version-zero", message: "revenue policy version must be >= 1" },
    ]);
  });
});
