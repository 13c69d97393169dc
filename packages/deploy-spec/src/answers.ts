import { z } from "zod";
import { checkBasisPoints, percentToBasisPoints } from "./basis-points.js";
import {
  BUNDLE_STATUSES,
  CapabilitySlotSchema,
  ConfigOverridesSchema,
  EnvIdSchema,
  LifecycleStateSchema,
  PackDescriptorSchema,
  PublicBaseUrlSchema,
  SocketAddrSchema,
  UlidSchema,
} from "./documents.js";
import type { ValidationIssue } from "./errors.js";
import { checkIdentifier, checkRouteHost } from "./ids.js";

/** Idempotency keys: 1..255 characters, not blank (the reference trims before its emptiness check). */
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .refine((v) => v.trim().length > 0, {
    error: "idempotency key is blank (only whitespace)",
    params: { code: "empty-idempotency-key" },
  });

/** A bundle or customer id as a person writes it: the environment id charset (see `checkIdentifier`). */
function identifier(what: string) {
  return z.string().superRefine((v, ctx) => {
    const p = checkIdentifier(v, what);
    if (p) ctx.addIssue({ code: "custom", message: p.message, params: { code: p.code } });
  });
}
/** A bundle id in answers. */
export const BundleIdSchema = identifier("bundle id");
/** A customer id in answers. */
export const CustomerIdSchema = identifier("customer id");
/** A route binding host in answers (see `checkRouteHost`). */
export const RouteHostSchema = z.string().superRefine((v, ctx) => {
  const p = checkRouteHost(v);
  if (p) ctx.addIssue({ code: "custom", message: p.message, params: { code: p.code } });
});

// Answers are written by people: every object is strict, so a typo is an error, not a field
// silently carried into the store. These mirror the (tolerant) document shapes.
export const TenantSelectorAnswersSchema = z.strictObject({ tenant: z.string(), team: z.string() });
export const RouteBindingAnswersSchema = z.strictObject({
  hosts: z.array(RouteHostSchema).default(() => []),
  path_prefixes: z.array(z.string()).default(() => []),
  tenant_selector: TenantSelectorAnswersSchema.default(() => ({ tenant: "default", team: "default" })),
});
export const RevenueShareEntryAnswersSchema = z.strictObject({ party_id: z.string().min(1), basis_points: z.number() });

/**
 * Tri-state update of one field: `{"value": v}` sets it, `{"clear": true}` removes it, an
 * absent field (or `{"clear": false}`) keeps it. Both keys together, or any other key, is refused.
 */
export function fieldUpdate<T extends z.ZodType>(value: T) {
  return z.union([z.strictObject({ value }), z.strictObject({ clear: z.boolean() })]);
}
export type FieldUpdate<T> = { value: T } | { clear: boolean };

const envId = { environment_id: EnvIdSchema };
const idem = { idempotency_key: IdempotencyKeySchema.optional() };

export const EnvCreateAnswersSchema = z.strictObject({
  ...envId,
  /** Display name; defaults to the environment id. */
  name: z.string().min(1).optional(),
  region: z.string().optional(),
  tenant_org_id: z.string().optional(),
  listen_addr: SocketAddrSchema.optional(),
  public_base_url: PublicBaseUrlSchema.optional(),
  gui_enabled: z.boolean().optional(),
  ...idem,
});
export type EnvCreateAnswers = z.output<typeof EnvCreateAnswersSchema>;

export const EnvUpdateAnswersSchema = z.strictObject({
  ...envId,
  name: fieldUpdate(z.string().min(1)).optional(),
  region: fieldUpdate(z.string()).optional(),
  tenant_org_id: fieldUpdate(z.string()).optional(),
  listen_addr: fieldUpdate(SocketAddrSchema).optional(),
  public_base_url: fieldUpdate(PublicBaseUrlSchema).optional(),
  gui_enabled: fieldUpdate(z.boolean()).optional(),
  ...idem,
});
export type EnvUpdateAnswers = z.output<typeof EnvUpdateAnswersSchema>;

export const EnvInitAnswersSchema = z.strictObject({
  environment_id: EnvIdSchema.default("local"),
  /** Applied only when the environment is created. */
  public_base_url: PublicBaseUrlSchema.optional(),
  ...idem,
});
export type EnvInitAnswers = z.output<typeof EnvInitAnswersSchema>;

export const EnvPacksAddAnswersSchema = z.strictObject({
  ...envId,
  slot: CapabilitySlotSchema,
  kind: PackDescriptorSchema,
  /** Defaults to `kind`. */
  pack_ref: z.string().min(1).optional(),
  answers_ref: z.string().optional(),
  ...idem,
});
export type EnvPacksAddAnswers = z.output<typeof EnvPacksAddAnswersSchema>;
export const EnvPacksUpdateAnswersSchema = EnvPacksAddAnswersSchema;
export type EnvPacksUpdateAnswers = EnvPacksAddAnswers;

export const EnvPacksSlotAnswersSchema = z.strictObject({ ...envId, slot: CapabilitySlotSchema, ...idem });
export type EnvPacksSlotAnswers = z.output<typeof EnvPacksSlotAnswersSchema>;

function refineRevenueShare(
  doc: { revenue_share?: { party_id: string; basis_points: number }[] | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  const share = doc.revenue_share;
  if (share === undefined) return;
  let sum = 0;
  let ok = true;
  share.forEach((entry, i) => {
    const w = checkBasisPoints(entry.basis_points);
    if (w.ok) sum += w.bps;
    else {
      ok = false;
      ctx.addIssue({
        code: "custom",
        message: w.message,
        params: { code: w.code },
        path: ["revenue_share", i, "basis_points"],
      });
    }
  });
  if (ok && sum !== 10_000) {
    ctx.addIssue({
      code: "custom",
      message: `revenue shares sum to ${sum} basis points; they must sum to exactly 10000`,
      params: { code: "basis-points-sum" },
      path: ["revenue_share"],
    });
  }
}

export const DEFAULT_REVENUE_SHARE = [{ party_id: "greentic", basis_points: 10_000 }] as const;

export const BundlesAddAnswersSchema = z
  .strictObject({
    ...envId,
    bundle_id: BundleIdSchema,
    /** Required outside the `local` environment; `local` defaults to `local-dev`. */
    customer_id: CustomerIdSchema.optional(),
    route_binding: RouteBindingAnswersSchema.optional(),
    revenue_share: z.array(RevenueShareEntryAnswersSchema).optional(),
    authorization_ref: z.string().min(1).default("auth.json"),
    config_overrides: ConfigOverridesSchema.optional(),
    ...idem,
  })
  .superRefine(refineRevenueShare);
export type BundlesAddAnswers = z.output<typeof BundlesAddAnswersSchema>;

export const BundlesUpdateAnswersSchema = z
  .strictObject({
    ...envId,
    deployment_id: UlidSchema,
    status: z.enum(BUNDLE_STATUSES).optional(),
    route_binding: RouteBindingAnswersSchema.optional(),
    revenue_share: z.array(RevenueShareEntryAnswersSchema).optional(),
    config_overrides: ConfigOverridesSchema.optional(),
    ...idem,
  })
  .superRefine(refineRevenueShare);
export type BundlesUpdateAnswers = z.output<typeof BundlesUpdateAnswersSchema>;

export const BundlesRemoveAnswersSchema = z.strictObject({ ...envId, deployment_id: UlidSchema, ...idem });
export type BundlesRemoveAnswers = z.output<typeof BundlesRemoveAnswersSchema>;

export const RevisionsStageAnswersSchema = z.strictObject({
  ...envId,
  deployment_id: UlidSchema,
  /** Caller-chosen id so that a retry replays instead of staging twice; minted when absent. */
  revision_id: UlidSchema.optional(),
  /** The `.gtbundle` file to stage. */
  bundle_path: z.string().min(1).optional(),
  bundle_source_uri: z.string().optional(),
  drain_seconds: z.number().int().min(0).max(4_294_967_295).optional(),
  ...idem,
});
export type RevisionsStageAnswers = z.output<typeof RevisionsStageAnswersSchema>;

export const RevisionsWarmAnswersSchema = z.strictObject({
  ...envId,
  revision_id: UlidSchema,
  /** When given, the revision must still be in this state (a stale health gate is refused). */
  expected_lifecycle: LifecycleStateSchema.optional(),
  ...idem,
});
export type RevisionsWarmAnswers = z.output<typeof RevisionsWarmAnswersSchema>;

export const RevisionsTargetAnswersSchema = z.strictObject({ ...envId, revision_id: UlidSchema, ...idem });
export type RevisionsTargetAnswers = z.output<typeof RevisionsTargetAnswersSchema>;

export const RevisionsPruneAnswersSchema = z.strictObject({
  ...envId,
  /** Only this deployment's revisions; default every deployment of the environment. */
  deployment_id: UlidSchema.optional(),
  /**
   * How many of each deployment's newest revisions to keep (archived ones not counted);
   * default the environment's `retention.keep_revisions`, else 3.
   */
  keep: z.number().int().min(1).max(1000).optional(),
  ...idem,
});
export type RevisionsPruneAnswers = z.output<typeof RevisionsPruneAnswersSchema>;

export const TrafficEntryAnswersSchema = z.strictObject({
  revision_id: UlidSchema,
  /** Basis points 0..10000; wins over `weight_percent` when both are given. */
  weight_bps: z.number().optional(),
  /** Percent 0..100 with at most two decimals (a whole number of basis points). */
  weight_percent: z.number().optional(),
});
export type TrafficEntryAnswers = z.output<typeof TrafficEntryAnswersSchema>;

/**
 * Converts answers entries to `{revision_id, weight_bps}` (bps wins when both are given) and
 * checks them: each weight valid, no duplicate revision, sum exactly 10000.
 */
export function normalizeTrafficEntries(entries: readonly TrafficEntryAnswers[]): {
  entries: { revision_id: string; weight_bps: number }[];
  issues: ValidationIssue[];
} {
  const issues: ValidationIssue[] = [];
  const out: { revision_id: string; weight_bps: number }[] = [];
  const seen = new Map<string, number>();
  let sum = 0;
  let weightsOk = true;
  entries.forEach((entry, i) => {
    const earlier = seen.get(entry.revision_id);
    if (earlier !== undefined)
      issues.push({
        path: `entries.${i}.revision_id`,
        code: "duplicate-entry",
        message: `revision ${entry.revision_id} appears twice (entries ${earlier} and ${i})`,
      });
    else seen.set(entry.revision_id, i);
    let w;
    let field;
    if (entry.weight_bps !== undefined) {
      w = checkBasisPoints(entry.weight_bps);
      field = "weight_bps";
    } else if (entry.weight_percent !== undefined) {
      w = percentToBasisPoints(entry.weight_percent);
      field = "weight_percent";
    } else {
      w = { ok: false as const, code: "missing-field", message: "entry needs weight_bps or weight_percent" };
      field = "weight_bps";
    }
    if (w.ok) {
      sum += w.bps;
      out.push({ revision_id: entry.revision_id, weight_bps: w.bps });
    } else {
      weightsOk = false;
      issues.push({ path: `entries.${i}.${field}`, code: w.code, message: w.message });
    }
  });
  if (entries.length === 0)
    issues.push({ path: "entries", code: "empty-split", message: "a traffic split needs at least one entry" });
  else if (weightsOk && sum !== 10_000) {
    issues.push({
      path: "entries",
      code: "basis-points-sum",
      message: `weights sum to ${sum} basis points; they must sum to exactly 10000`,
    });
  }
  return { entries: out, issues };
}

export const TrafficSetAnswersSchema = z
  .strictObject({
    ...envId,
    deployment_id: UlidSchema,
    entries: z.array(TrafficEntryAnswersSchema),
    /** Required: a retry with the same key and entries is a no-op. */
    idempotency_key: IdempotencyKeySchema,
    updated_by: z.string().min(1).default("operator"),
    authorization_ref: z.string().min(1).default("auth.json"),
  })
  .superRefine((doc, ctx) => {
    for (const issue of normalizeTrafficEntries(doc.entries).issues) {
      ctx.addIssue({
        code: "custom",
        message: issue.message,
        params: { code: issue.code },
        path: issue.path.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      });
    }
  });
export type TrafficSetAnswers = z.output<typeof TrafficSetAnswersSchema>;

export const TrafficRollbackAnswersSchema = z.strictObject({
  ...envId,
  deployment_id: UlidSchema,
  updated_by: z.string().min(1).optional(),
  ...idem,
});
export type TrafficRollbackAnswers = z.output<typeof TrafficRollbackAnswersSchema>;

export const ConfigSetAnswersSchema = z.strictObject({
  ...envId,
  name: z.string().min(1).optional(),
  region: z.string().optional(),
  tenant_org_id: z.string().optional(),
  listen_addr: SocketAddrSchema.optional(),
  public_base_url: PublicBaseUrlSchema.optional(),
  gui_enabled: z.boolean().optional(),
  /** Retention policy: revisions of each deployment kept by `op deploy`'s automatic prune (`retention.keep_revisions`). */
  keep_revisions: z.number().int().min(1).max(1000).optional(),
  ...idem,
});
export type ConfigSetAnswers = z.output<typeof ConfigSetAnswersSchema>;

/** Secret names: `/`-separated segments of `[A-Za-z0-9_.-]`, no segment starting with `.`. */
export const SecretNameSchema = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/, {
  error: (iss) =>
    `secret name ${JSON.stringify(iss.input)} must be /-separated segments of letters, digits, "_", "-", "." (no segment starting with ".")`,
});

export const SecretsPutAnswersSchema = z.strictObject({ ...envId, name: SecretNameSchema, value: z.string(), ...idem });
export type SecretsPutAnswers = z.output<typeof SecretsPutAnswersSchema>;
export const SecretsRotateAnswersSchema = z.strictObject({
  ...envId,
  name: SecretNameSchema,
  /** The new value; when absent a random one is generated by the secrets backend. */
  value: z.string().optional(),
  ...idem,
});
export type SecretsRotateAnswers = z.output<typeof SecretsRotateAnswersSchema>;
export const SecretsDeleteAnswersSchema = z.strictObject({ ...envId, name: SecretNameSchema, ...idem });
export type SecretsDeleteAnswers = z.output<typeof SecretsDeleteAnswersSchema>;

export const DeployAnswersSchema = z
  .strictObject({
    environment_id: EnvIdSchema.default("local"),
    bundle_path: z.string().min(1),
    /** The bundle's manifest names it; when given, it must match the manifest's `bundle_id`. */
    bundle_id: BundleIdSchema.optional(),
    /**
     * Allow this deploy to add a second deployment to an environment whose URL already serves
     * another one (its requests are then routed by each deployment's route binding).
     */
    new_deployment: z.boolean().optional(),
    customer_id: CustomerIdSchema.optional(),
    route_binding: RouteBindingAnswersSchema.optional(),
    tenant_selector: TenantSelectorAnswersSchema.optional(),
    revenue_share: z.array(RevenueShareEntryAnswersSchema).optional(),
    config_overrides: ConfigOverridesSchema.optional(),
    ...idem,
  })
  .superRefine(refineRevenueShare);
export type DeployAnswers = z.output<typeof DeployAnswersSchema>;

/** The answers schema of every mutating `op` verb, keyed `"<noun> <verb>"`. */
export const ANSWERS_SCHEMAS = {
  "env create": EnvCreateAnswersSchema,
  "env update": EnvUpdateAnswersSchema,
  "env init": EnvInitAnswersSchema,
  "env-packs add": EnvPacksAddAnswersSchema,
  "env-packs update": EnvPacksUpdateAnswersSchema,
  "env-packs remove": EnvPacksSlotAnswersSchema,
  "env-packs rollback": EnvPacksSlotAnswersSchema,
  "bundles add": BundlesAddAnswersSchema,
  "bundles update": BundlesUpdateAnswersSchema,
  "bundles remove": BundlesRemoveAnswersSchema,
  "revisions stage": RevisionsStageAnswersSchema,
  "revisions warm": RevisionsWarmAnswersSchema,
  "revisions drain": RevisionsTargetAnswersSchema,
  "revisions archive": RevisionsTargetAnswersSchema,
  "revisions prune": RevisionsPruneAnswersSchema,
  "traffic set": TrafficSetAnswersSchema,
  "traffic rollback": TrafficRollbackAnswersSchema,
  "config set": ConfigSetAnswersSchema,
  "secrets put": SecretsPutAnswersSchema,
  "secrets rotate": SecretsRotateAnswersSchema,
  "secrets delete": SecretsDeleteAnswersSchema,
  "deploy run": DeployAnswersSchema,
} as const;
export type AnswersVerb = keyof typeof ANSWERS_SCHEMAS;
export type AnswersFor<V extends AnswersVerb> = z.output<(typeof ANSWERS_SCHEMAS)[V]>;
