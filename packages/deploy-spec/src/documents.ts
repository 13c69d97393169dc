import { z } from "zod";
import { checkWeightedEntries } from "./basis-points.js";
import { canonicalJson } from "./canonical.js";
import { checkPackDescriptor, isSemver } from "./descriptor.js";
import { normalizePublicBaseUrl, parseSocketAddr } from "./host-config.js";
import { checkEnvId, ULID_PATTERN } from "./ids.js";
import { LIFECYCLE_STATES } from "./lifecycle.js";
import { parseRuntimeRef, parseSecretRef } from "./refs.js";
import { CAPABILITY_SLOTS } from "./slots.js";
import { checkRevisionTag } from "./tags.js";
import { registerStoredSchemas } from "./tolerant.js";

/** `schema` discriminator of every stored or exchanged document. */
export const SCHEMA_IDS = {
  environment: "greentic.environment.v1",
  environmentRuntime: "greentic.environment-runtime.v1",
  revision: "greentic.revision.v1",
  trafficSplit: "greentic.traffic-split.v1",
  bundleDeployment: "greentic.bundle-deployment.v1",
  revenuePolicy: "greentic.revenue-policy.v1",
  credentials: "greentic.credentials.v1",
  packConfig: "greentic.pack-config.v1",
  runtimeConfig: "greentic.runtime-config.v1",
  packListLock: "greentic.pack-list-lock.v1",
  auditEvent: "greentic.audit.event.v1",
  backupManifest: "greentic.backup-manifest.v1",
  backupArtifact: "greentic.backup-artifact.v1",
  messagingEndpoint: "greentic.messaging-endpoint.v1",
} as const;

// Every stored document and every object inside one is read tolerantly (`z.looseObject`): a
// field added by a newer reference is kept in the parsed value and written back by the next
// mutation, as the reference's serde (which ignores unknown fields) would let it through.
// Answers files stay strict (`answers.ts`), and explicit `null` on an optional field reads as
// absent (`dropNullOptionals`, applied by `parseDocument` to the schemas registered below).

function custom(ctx: z.core.$RefinementCtx, code: string, message: string, path?: (string | number)[]): void {
  ctx.addIssue({ code: "custom", message, params: { code }, ...(path === undefined ? {} : { path }) });
}

/** A string that must not be empty or only whitespace (the reference trims first), reported with its own code. */
function nonBlank(code: string, message: string) {
  return z.string().refine((v) => v.trim().length > 0, { error: message, params: { code } });
}

/** Adds a `cross-env-ref` issue when a secret ref's env segment is not `envId`. */
function refineScope(ctx: z.core.$RefinementCtx, path: (string | number)[], ref: string, envId: string): void {
  const parsed = parseSecretRef(ref);
  if (parsed && parsed.env !== envId)
    custom(
      ctx,
      "cross-env-ref",
      `secret reference ${JSON.stringify(ref)} points at environment ${JSON.stringify(parsed.env)}, not ${JSON.stringify(envId)}`,
      path,
    );
}

// ---- scalars -------------------------------------------------------------------------------

/** RFC 3339 timestamp (UTC `Z` or an offset; any sub-second precision). */
export const TimestampSchema = z.iso.datetime({ offset: true });
/** Unsigned 64-bit counter, limited to JavaScript's safe integers. */
export const U64Schema = z.number().int().min(0);
/** Unsigned 32-bit integer. */
export const U32Schema = z.number().int().min(0).max(4_294_967_295);
/** Canonical upper-case ULID. */
export const UlidSchema = z.string().regex(ULID_PATTERN, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a ULID (26 Crockford base32 characters, upper case)`,
});
/** Environment id (see `checkEnvId`). */
export const EnvIdSchema = z.string().superRefine((v, ctx) => {
  const p = checkEnvId(v);
  if (p) custom(ctx, p.code, p.message);
});
/** Pack descriptor in its wire form `<path>@<semver>`. */
export const PackDescriptorSchema = z.string().superRefine((v, ctx) => {
  const r = checkPackDescriptor(v);
  if (!r.ok) custom(ctx, r.code, r.message);
});
/** SemVer 2.0.0 version string. */
export const SemverSchema = z.string().refine(isSemver, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a SemVer version`,
  params: { code: "invalid-semver" },
});
/** `secret://<env>/<path>`. */
export const SecretRefSchema = z.string().refine((v) => parseSecretRef(v) !== null, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a secret reference (secret://<env>[/<path>])`,
  params: { code: "invalid-secret-ref" },
});
/** `runtime://<env>/<path>`. */
export const RuntimeRefSchema = z.string().refine((v) => parseRuntimeRef(v) !== null, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a runtime reference (runtime://<env>[/<path>])`,
  params: { code: "invalid-runtime-ref" },
});
/** A `SocketAddr` as Rust writes it: `127.0.0.1:8080` or `[::1]:8080`. */
export const SocketAddrSchema = z.string().refine((v) => parseSocketAddr(v) !== null, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a socket address (e.g. 127.0.0.1:8080 or [::1]:8080)`,
  params: { code: "invalid-listen-addr" },
});
/** Public base URL (see `normalizePublicBaseUrl`). */
export const PublicBaseUrlSchema = z.string().superRefine((v, ctx) => {
  const r = normalizePublicBaseUrl(v);
  if (!r.ok) custom(ctx, "invalid-public-base-url", r.message);
});
/** Extension instance id: `[a-z0-9-]+`. */
export const InstanceIdSchema = z.string().regex(/^[a-z0-9-]+$/, {
  error: (iss) => `extension instance id ${JSON.stringify(iss.input)} must match [a-z0-9-]+`,
});

export const CapabilitySlotSchema = z.enum(CAPABILITY_SLOTS);
export const LifecycleStateSchema = z.enum(LIFECYCLE_STATES);
/** Any JSON value. */
export const JsonValueSchema = z.unknown();

// ---- environment parts --------------------------------------------------------------------

export const EnvironmentHostConfigSchema = z.looseObject({
  env_id: EnvIdSchema,
  region: z.string().optional(),
  tenant_org_id: z.string().optional(),
  listen_addr: SocketAddrSchema.optional(),
  public_base_url: PublicBaseUrlSchema.optional(),
  gui_enabled: z.boolean().optional(),
});
export type EnvironmentHostConfig = z.output<typeof EnvironmentHostConfigSchema>;

export const EnvPackBindingSchema = z.looseObject({
  slot: CapabilitySlotSchema,
  kind: PackDescriptorSchema,
  pack_ref: z.string(),
  answers_ref: z.string().optional(),
  generation: U64Schema.default(0),
  previous_binding_ref: z.string().optional(),
});
export type EnvPackBinding = z.output<typeof EnvPackBindingSchema>;

export const ExtensionBindingSchema = z.looseObject({
  kind: PackDescriptorSchema,
  pack_ref: z.string(),
  instance_id: InstanceIdSchema.optional(),
  answers_ref: z.string().optional(),
  generation: U64Schema.default(0),
  previous_binding_ref: z.string().optional(),
});
export type ExtensionBinding = z.output<typeof ExtensionBindingSchema>;

export const RevocationConfigSchema = z.looseObject({
  required: z.boolean().default(false),
  list_ref: z.string().optional(),
});
export type RevocationConfig = z.output<typeof RevocationConfigSchema>;

export const RetentionPolicySchema = z.looseObject({
  keep_revisions: U32Schema.optional(),
  audit_retention_days: U32Schema.optional(),
});
export type RetentionPolicy = z.output<typeof RetentionPolicySchema>;

export const HEALTH_STATES = ["unknown", "green", "yellow", "red"] as const;
export const HealthStatusSchema = z.looseObject({
  state: z.enum(HEALTH_STATES).default("unknown"),
  message: z.string().optional(),
  last_checked_at: TimestampSchema.optional(),
});
export type HealthStatus = z.output<typeof HealthStatusSchema>;

// ---- revisions ----------------------------------------------------------------------------

export const PackListEntrySchema = z.looseObject({
  pack_id: z.string(),
  version: SemverSchema,
  digest: z.string(),
  source_uri: z.string().optional(),
});
export type PackListEntry = z.output<typeof PackListEntrySchema>;

/** A revision tag (see `tags.ts`). */
export const RevisionTagSchema = z.string().superRefine((v, ctx) => {
  const p = checkRevisionTag(v);
  if (p) custom(ctx, p.code, p.message);
});

export const RevisionSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.revision),
  revision_id: UlidSchema,
  env_id: EnvIdSchema,
  bundle_id: z.string(),
  deployment_id: UlidSchema,
  sequence: U64Schema,
  created_at: TimestampSchema,
  bundle_digest: z.string(),
  bundle_source_uri: z.string().optional(),
  pack_list: z.array(PackListEntrySchema),
  pack_list_lock_ref: z.string(),
  pack_config_refs: z.array(z.string()).default(() => []),
  config_digest: z.string(),
  signature_sidecar_ref: z.string(),
  lifecycle: LifecycleStateSchema,
  staged_at: TimestampSchema.optional(),
  warmed_at: TimestampSchema.optional(),
  drain_seconds: U32Schema.default(0),
  abort_metrics: z.array(z.string()).default(() => []),
  /**
   * Operator tags, unique per deployment. Not a reference field (the reference ignores it and
   * drops it on rewrite); absent, never `[]`, when the revision has none.
   */
  tags: z.array(RevisionTagSchema).optional(),
});
export type Revision = z.output<typeof RevisionSchema>;

// ---- traffic ------------------------------------------------------------------------------

export const TrafficEntrySchema = z.looseObject({
  revision_id: UlidSchema,
  weight_bps: z.number(),
});
export type TrafficEntry = z.output<typeof TrafficEntrySchema>;

/** Adds the basis-point issues of a list of weighted entries under `key`. */
function refineWeights(key: string, idKey: string, weightKey: string) {
  return (doc: Record<string, unknown>, ctx: z.core.$RefinementCtx): void => {
    const entries = doc[key] as Record<string, unknown>[];
    for (const issue of checkWeightedEntries(entries, idKey, weightKey)) {
      const rel = issue.path === "" ? [] : issue.path.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      custom(ctx, issue.code, issue.message, [key, ...rel]);
    }
  };
}

export const TrafficSplitSchema = z
  .looseObject({
    schema: z.literal(SCHEMA_IDS.trafficSplit),
    env_id: EnvIdSchema,
    deployment_id: UlidSchema,
    bundle_id: z.string(),
    generation: U64Schema,
    entries: z.array(TrafficEntrySchema),
    updated_at: TimestampSchema,
    updated_by: z.string(),
    idempotency_key: z.string(),
    authorization_ref: z.string(),
    previous_split_ref: z.string().optional(),
  })
  .superRefine(refineWeights("entries", "revision_id", "weight_bps"));
export type TrafficSplit = z.output<typeof TrafficSplitSchema>;

// ---- bundle deployments -------------------------------------------------------------------

export const BUNDLE_STATUSES = ["active", "paused", "archived"] as const;

export const TenantSelectorSchema = z.looseObject({ tenant: z.string(), team: z.string() });
export type TenantSelector = z.output<typeof TenantSelectorSchema>;

export const RouteBindingSchema = z.looseObject({
  hosts: z.array(z.string()).default(() => []),
  path_prefixes: z.array(z.string()).default(() => []),
  /** Required, as in the reference (a document without it is refused, not defaulted). */
  tenant_selector: TenantSelectorSchema,
});
export type RouteBinding = z.output<typeof RouteBindingSchema>;

export const RevenueShareEntrySchema = z.looseObject({ party_id: z.string().min(1), basis_points: z.number() });
export type RevenueShareEntry = z.output<typeof RevenueShareEntrySchema>;

export const UsageSchema = z.looseObject({ meter_endpoint: z.string(), last_seen_at: TimestampSchema.optional() });

/** Config override caps of the reference. */
export const CONFIG_OVERRIDE_LIMITS = { maxPacks: 32, maxKeysPerPack: 64, maxSerializedBytes: 16 * 1024 } as const;

/** Checks `config_overrides` caps: <= 32 packs, <= 64 keys per pack, <= 16 KiB serialized, no empty ids. */
export function checkConfigOverrides(
  overrides: Record<string, Record<string, unknown>>,
): { path: string; code: string; message: string }[] {
  const issues: { path: string; code: string; message: string }[] = [];
  const packs = Object.keys(overrides);
  if (packs.length > CONFIG_OVERRIDE_LIMITS.maxPacks) {
    issues.push({
      path: "",
      code: "config-overrides-too-many-packs",
      message: `${packs.length} packs have overrides; at most ${CONFIG_OVERRIDE_LIMITS.maxPacks} are allowed`,
    });
  }
  for (const pack of packs) {
    if (pack === "")
      issues.push({
        path: pack,
        code: "config-override-empty-pack-id",
        message: "a config override has an empty pack id",
      });
    const keys = Object.keys(overrides[pack]!);
    if (keys.length > CONFIG_OVERRIDE_LIMITS.maxKeysPerPack) {
      issues.push({
        path: pack,
        code: "config-overrides-too-many-keys-for-pack",
        message: `pack ${JSON.stringify(pack)} has ${keys.length} override keys; at most ${CONFIG_OVERRIDE_LIMITS.maxKeysPerPack} are allowed`,
      });
    }
    if (keys.includes(""))
      issues.push({
        path: pack,
        code: "config-override-empty-key",
        message: `pack ${JSON.stringify(pack)} has an override with an empty key`,
      });
  }
  // Measured on canonical JSON, as the reference does, so reordering cannot bypass the cap.
  const size = Buffer.byteLength(canonicalJson(overrides), "utf8");
  if (size > CONFIG_OVERRIDE_LIMITS.maxSerializedBytes) {
    issues.push({
      path: "",
      code: "config-overrides-too-large",
      message: `config overrides take ${size} bytes serialized; at most ${CONFIG_OVERRIDE_LIMITS.maxSerializedBytes} are allowed`,
    });
  }
  return issues;
}

export const ConfigOverridesSchema = z
  .record(z.string(), z.record(z.string(), JsonValueSchema))
  .superRefine((v, ctx) => {
    for (const issue of checkConfigOverrides(v))
      custom(ctx, issue.code, issue.message, issue.path === "" ? [] : [issue.path]);
  });
export type ConfigOverrides = z.output<typeof ConfigOverridesSchema>;

export const BundleDeploymentSchema = z
  .looseObject({
    schema: z.literal(SCHEMA_IDS.bundleDeployment),
    deployment_id: UlidSchema,
    env_id: EnvIdSchema,
    bundle_id: z.string().min(1),
    customer_id: z.string().min(1),
    status: z.enum(BUNDLE_STATUSES),
    current_revisions: z.array(UlidSchema).default(() => []),
    route_binding: RouteBindingSchema,
    /** Required and summing to exactly 10000, even when empty, as in the reference. */
    revenue_share: z.array(RevenueShareEntrySchema),
    revenue_policy_ref: z.string(),
    usage: UsageSchema.optional(),
    created_at: TimestampSchema,
    authorization_ref: z.string(),
    config_overrides: ConfigOverridesSchema.optional(),
  })
  .superRefine(refineWeights("revenue_share", "party_id", "basis_points"));
export type BundleDeployment = z.output<typeof BundleDeploymentSchema>;

// ---- messaging ----------------------------------------------------------------------------

export const WelcomeFlowSchema = z.looseObject({
  bundle_id: z.string(),
  pack_id: z.string(),
  flow_id: nonBlank("empty-welcome-flow-id", "welcome flow id is empty or blank"),
});

/** The endpoint's fields; inside an environment its scope is checked with the other cross-references. */
const MessagingEndpointFieldsSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.messagingEndpoint),
  env_id: EnvIdSchema,
  endpoint_id: UlidSchema,
  provider_id: nonBlank("empty-messaging-provider-id", "provider_id is empty or blank"),
  provider_type: nonBlank("empty-messaging-provider-type", "provider_type is empty or blank"),
  display_name: z.string(),
  secret_refs: z.array(SecretRefSchema).default(() => []),
  webhook_secret_ref: SecretRefSchema.optional(),
  linked_bundles: z.array(z.string()).default(() => []),
  welcome_flow: WelcomeFlowSchema.optional(),
  generation: U64Schema.default(0),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
  updated_by: z.string(),
});

/** A standalone messaging endpoint document (`greentic.messaging-endpoint.v1`). */
export const MessagingEndpointSchema = MessagingEndpointFieldsSchema.superRefine((doc, ctx) => {
  // `MessagingEndpoint::validate`: every secret ref is scoped to the endpoint's own env.
  doc.secret_refs.forEach((ref, i) => refineScope(ctx, ["secret_refs", i], ref, doc.env_id));
  if (doc.webhook_secret_ref !== undefined)
    refineScope(ctx, ["webhook_secret_ref"], doc.webhook_secret_ref, doc.env_id);
});
export type MessagingEndpoint = z.output<typeof MessagingEndpointSchema>;

// ---- environment --------------------------------------------------------------------------

export const EnvironmentSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.environment),
  environment_id: EnvIdSchema,
  name: z.string(),
  host_config: EnvironmentHostConfigSchema,
  packs: z.array(EnvPackBindingSchema),
  credentials_ref: SecretRefSchema.optional(),
  bundles: z.array(BundleDeploymentSchema).default(() => []),
  revisions: z.array(RevisionSchema).default(() => []),
  traffic_splits: z.array(TrafficSplitSchema).default(() => []),
  messaging_endpoints: z.array(MessagingEndpointFieldsSchema).default(() => []),
  extensions: z.array(ExtensionBindingSchema).default(() => []),
  revocation: RevocationConfigSchema.default(() => ({ required: false })),
  retention: RetentionPolicySchema.default(() => ({})),
  health: HealthStatusSchema.default(() => ({ state: "unknown" as const })),
  /** Our extension: the store's compare-and-swap counter (absent = 0). */
  generation: U64Schema.optional(),
});
export type Environment = z.output<typeof EnvironmentSchema>;

// ---- other documents ----------------------------------------------------------------------

export const CredentialsSchema = z
  .looseObject({
    schema: z.literal(SCHEMA_IDS.credentials),
    env_id: EnvIdSchema,
    deployer_kind: PackDescriptorSchema,
    mode: z.enum(["requirements", "bootstrap"]),
    provided_credentials_ref: SecretRefSchema,
    validation: z.looseObject({
      last_run_at: TimestampSchema,
      result: z.enum(["pass", "fail"]),
      missing_capabilities: z.array(z.string()).default(() => []),
    }),
    bootstrap: z
      .looseObject({
        admin_credential_consumed_at: TimestampSchema,
        rules_pack_ref: z.string(),
        generated_credentials_ref: SecretRefSchema,
      })
      .optional(),
    expiry: z.looseObject({ expires_at: TimestampSchema, rotate_at: TimestampSchema.optional() }).optional(),
  })
  .superRefine((doc, ctx) => {
    // `Credentials::validate`: both refs point into this document's own environment.
    refineScope(ctx, ["provided_credentials_ref"], doc.provided_credentials_ref, doc.env_id);
    if (doc.bootstrap !== undefined)
      refineScope(ctx, ["bootstrap", "generated_credentials_ref"], doc.bootstrap.generated_credentials_ref, doc.env_id);
  });
export type Credentials = z.output<typeof CredentialsSchema>;

export const EnvironmentRuntimeSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.environmentRuntime),
  environment_id: EnvIdSchema,
  discovered: z.record(z.string(), JsonValueSchema).default(() => ({})),
  generated_at: TimestampSchema,
  generated_by: PackDescriptorSchema,
  generation: U64Schema,
});
export type EnvironmentRuntime = z.output<typeof EnvironmentRuntimeSchema>;

export const RuntimeConfigRevisionSchema = z.looseObject({
  deployment_id: UlidSchema,
  revision_id: UlidSchema,
  bundle_id: z.string(),
  pack_list_refs: z.array(z.string()).default(() => []),
  pack_config_refs: z.array(z.string()).default(() => []),
  weight_bps: z.number().int().min(0).max(10_000),
});
export const RuntimeConfigSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.runtimeConfig),
  env_id: EnvIdSchema,
  revisions: z.array(RuntimeConfigRevisionSchema),
});
export type RuntimeConfig = z.output<typeof RuntimeConfigSchema>;
export type RuntimeConfigRevision = z.output<typeof RuntimeConfigRevisionSchema>;

export const PackConfigSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.packConfig),
  pack_id: z.string(),
  revision_id: UlidSchema,
  non_secret: z.record(z.string(), JsonValueSchema).default(() => ({})),
  secret_refs: z.record(z.string(), SecretRefSchema).default(() => ({})),
  runtime_refs: z.record(z.string(), RuntimeRefSchema).default(() => ({})),
});
export type PackConfig = z.output<typeof PackConfigSchema>;

/** `sha256:<64 lowercase hex>`. */
export const PrefixedDigestSchema = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a sha256:<hex> digest` });

export const PackListLockSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.packListLock),
  revision_id: UlidSchema,
  packs: z.array(z.looseObject({ pack_id: z.string(), path: z.string(), digest: PrefixedDigestSchema })),
});
export type PackListLock = z.output<typeof PackListLockSchema>;

export const RevenuePolicyDocumentSchema = z
  .looseObject({
    schema: z.literal(SCHEMA_IDS.revenuePolicy),
    version: U64Schema.refine((v) => v >= 1, {
      error: "revenue policy version must be >= 1",
      params: { code: "revenue-policy-version-zero" },
    }),
    deployment_id: UlidSchema,
    env_id: EnvIdSchema,
    bundle_id: z.string(),
    customer_id: z.string(),
    revenue_share: z.array(RevenueShareEntrySchema),
    created_at: TimestampSchema,
    previous_version_ref: z.string().optional(),
  })
  .superRefine(refineWeights("revenue_share", "party_id", "basis_points"));
export type RevenuePolicyDocument = z.output<typeof RevenuePolicyDocumentSchema>;

// ---- audit --------------------------------------------------------------------------------

export const AuditActorSchema = z.looseObject({
  kind: z.string(),
  user: z.string().optional(),
  uid: z.number().int().min(0).optional(),
});
export type AuditActor = z.output<typeof AuditActorSchema>;

export const AuditDecisionSchema = z.looseObject({
  decision: z.enum(["allow", "deny"]),
  policy: z.string(),
  reason: z.string(),
});
export type AuditDecision = z.output<typeof AuditDecisionSchema>;

export const AuditResultSchema = z.discriminatedUnion("outcome", [
  z.looseObject({ outcome: z.literal("ok") }),
  z.looseObject({ outcome: z.literal("error"), kind: z.string(), message: z.string() }),
  z.looseObject({ outcome: z.literal("not-yet-implemented"), detail: z.string() }),
]);
export type AuditResult = z.output<typeof AuditResultSchema>;

/** Lowercase SHA-256 hex. */
export const Sha256HexSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, { error: (iss) => `${JSON.stringify(iss.input)} is not 64 lowercase hex characters` });

export const AuditEventSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.auditEvent),
  event_id: UlidSchema,
  ts: TimestampSchema,
  actor: AuditActorSchema,
  env_id: EnvIdSchema,
  noun: z.string(),
  verb: z.string(),
  target: JsonValueSchema,
  previous_generation: U64Schema.optional(),
  new_generation: U64Schema.optional(),
  idempotency_key: z.string().optional(),
  authorization: AuditDecisionSchema,
  result: AuditResultSchema,
  /** Our extension: SHA-256 of the previous line of the log (hash chain). */
  prev_hash: Sha256HexSchema.optional(),
});
export type AuditEvent = z.output<typeof AuditEventSchema>;

// ---- backups ------------------------------------------------------------------------------

export const StateIntegritySchema = z.looseObject({ algorithm: z.literal("sha-256"), digest: Sha256HexSchema });
export type StateIntegrity = z.output<typeof StateIntegritySchema>;

export const BackupManifestSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.backupManifest),
  backup_id: z.string().min(1),
  env_id: EnvIdSchema,
  created_at: TimestampSchema,
  generation: U64Schema,
  integrity: StateIntegritySchema,
  size_bytes: U64Schema,
});
export type BackupManifest = z.output<typeof BackupManifestSchema>;

export const BackupArtifactSchema = z.looseObject({
  schema: z.literal(SCHEMA_IDS.backupArtifact),
  manifest: BackupManifestSchema,
  snapshot: z.record(z.string(), JsonValueSchema),
  snapshot_digest: Sha256HexSchema,
});
export type BackupArtifact = z.output<typeof BackupArtifactSchema>;

// ---- bundle manifest ---------------------------------------------------------------------

/** Bundle ids: what the store and the URL routes accept without quoting. */
export const BUNDLE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/u;
const BUNDLE_RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;

/** A string check reported with its own kebab-case code and message. */
function coded(code: string, ok: (v: string) => boolean, message: (v: string) => string) {
  return z.string().superRefine((v, ctx) => {
    if (!ok(v)) custom(ctx, code, message(v));
  });
}

const BundleEntrySchema = z
  .strictObject({
    path: coded(
      "invalid-path",
      (v) => v !== "",
      () => "path must be a non-empty string",
    ),
    type: z.enum(["file", "dir", "symlink"]),
    size: z.number().int().min(0),
    mode: coded(
      "invalid-mode",
      (v) => /^[0-7]{4}$/u.test(v),
      (v) => `mode must be 4 octal digits, got ${JSON.stringify(v)}`,
    ),
    sha256: z.string().optional(),
    target: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    if (e.type === "file" && (e.sha256 === undefined || !/^[0-9a-f]{64}$/u.test(e.sha256)))
      custom(ctx, "invalid-digest", "a file entry needs a 64-hex sha256", ["sha256"]);
    if (e.type === "symlink" && e.target === undefined)
      custom(ctx, "invalid-target", "a symlink entry needs a target", ["target"]);
  });

/**
 * `bundle-manifest.json` at the root of every `.gtbundle` (`@greentic/bundle` writes and reads
 * it). Strict: a field this version does not know is refused, since the content digest and the
 * entries are what a deployment trusts.
 */
export const BundleManifestDocumentSchema = z.strictObject({
  schema: z.literal("greentic.bundle-manifest.v1"),
  bundle_id: coded(
    "invalid-bundle-id",
    (v) => BUNDLE_ID_PATTERN.test(v),
    (v) => `invalid bundle id ${JSON.stringify(v)}`,
  ),
  version: coded(
    "invalid-semver",
    (v) => isSemver(v),
    (v) => `not a semantic version: ${JSON.stringify(v)}`,
  ),
  created_at: coded(
    "invalid-timestamp",
    (v) => BUNDLE_RFC3339.test(v) && !Number.isNaN(Date.parse(v)),
    (v) => `not an RFC 3339 timestamp: ${JSON.stringify(v)}`,
  ),
  content_digest: coded(
    "invalid-digest",
    (v) => /^sha256:[0-9a-f]{64}$/u.test(v),
    (v) => `expected sha256:<64 hex>, got ${JSON.stringify(v)}`,
  ),
  entries: z.array(BundleEntrySchema),
  entry: z.strictObject({ kind: z.literal("static"), index: z.string() }).optional(),
});
export type BundleManifestDocument = z.output<typeof BundleManifestDocumentSchema>;

// ---- idempotency ledger ------------------------------------------------------------------

/**
 * One entry of a store's idempotency ledger: what a keyed mutation returned, replayed verbatim
 * on a retry with the same key and request. The local store keeps one file per key; another
 * backend keeps the same document in its own table.
 */
export const IdempotencyEntrySchema = z.looseObject({
  schema: z.literal("greentic.idempotency-entry.v1"),
  key: z.string(),
  fingerprint: z.string(),
  noun: z.string(),
  verb: z.string(),
  /** The environment generation this mutation produced (or left unchanged). */
  generation: z.number().int(),
  recorded_at: z.string(),
  response: z.looseObject({
    result: z.unknown().optional(),
    etag: z.string(),
    generation: z.number().int(),
    audit: z.unknown().optional(),
  }),
  /** A committed-on-error outcome: the error is replayed too. */
  error: z.record(z.string(), z.unknown()).optional(),
});
export type IdempotencyEntry = z.output<typeof IdempotencyEntrySchema>;

registerStoredSchemas(
  IdempotencyEntrySchema,
  EnvironmentSchema,
  RevisionSchema,
  TrafficSplitSchema,
  BundleDeploymentSchema,
  CredentialsSchema,
  EnvironmentRuntimeSchema,
  RuntimeConfigSchema,
  PackConfigSchema,
  PackListLockSchema,
  MessagingEndpointSchema,
  RevenuePolicyDocumentSchema,
  AuditEventSchema,
  BackupManifestSchema,
  BackupArtifactSchema,
);
