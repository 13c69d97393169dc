import { z } from "zod";
import { checkBasisPoints, percentToBasisPoints } from "./basis-points.js";
import {
  BUNDLE_STATUSES,
  CapabilitySlotSchema,
  ConfigOverridesSchema,
  EnvIdSchema,
  LifecycleStateSchema,
  PackDescriptorSchema,
  RevisionTagSchema,
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
// Nested fields carry their description (and, where not obvious, an example) here, so that the
// generated JSON Schemas and `op <verb> --example` explain them wherever they appear.
export const TenantSelectorAnswersSchema = z.strictObject({
  tenant: z.string().meta({ description: "Tenant whose requests the deployment serves.", examples: ["acme"] }),
  team: z.string().meta({ description: "Team within the tenant.", examples: ["web"] }),
});
export const RouteBindingAnswersSchema = z.strictObject({
  hosts: z
    .array(RouteHostSchema)
    .default(() => [])
    .meta({
      description:
        "Host names routed to the deployment (DNS names, optional *. prefix and :port; IDNs in their xn-- form). Empty: any host.",
      examples: [["shop.example.com", "*.shop.example.com"]],
    }),
  path_prefixes: z
    .array(z.string())
    .default(() => [])
    .meta({ description: "URL path prefixes routed to the deployment. Empty: every path.", examples: [["/shop"]] }),
  tenant_selector: TenantSelectorAnswersSchema.default(() => ({ tenant: "default", team: "default" })).meta({
    description: "Tenant and team the deployment serves (default tenant default, team default).",
    examples: [{ tenant: "acme", team: "web" }],
  }),
});
export const RevenueShareEntryAnswersSchema = z.strictObject({
  party_id: z
    .string()
    .min(1)
    .meta({ description: "Who receives this share (an opaque party id).", examples: ["greentic"] }),
  basis_points: z.number().meta({
    description: "The party's share in basis points, 0..10000; the shares of all parties sum to exactly 10000.",
    examples: [10000],
  }),
});

/**
 * Tri-state update of one field: `{"value": v}` sets it, `{"clear": true}` removes it, an
 * absent field (or `{"clear": false}`) keeps it. Both keys together, or any other key, is refused.
 */
export function fieldUpdate<T extends z.ZodType>(value: T) {
  return z.union([
    z.strictObject({ value: value.meta({ description: "The new value of the field." }) }),
    z.strictObject({
      clear: z.boolean().meta({
        description: "true removes the field's value; false keeps it (as leaving the field out does).",
        examples: [true],
      }),
    }),
  ]);
}
export type FieldUpdate<T> = { value: T } | { clear: boolean };

/** What an answers field means, for `--schema` (JSON Schema `description`/`examples`) and `op <verb> --example`. */
interface FieldDoc {
  description: string;
  examples?: unknown[];
}

/** One description per answers field, shared by the verbs that take it (see {@link documented}). */
const FIELD_DOCS: Record<string, FieldDoc> = {
  environment_id: { description: "The environment to act on.", examples: ["local"] },
  idempotency_key: {
    description:
      "Retry key (1..255 characters): sending the same key with the same payload again replays the first result; with a different payload it is refused.",
    examples: ["release-2026-07-01"],
  },
  name: { description: "Display name of the environment.", examples: ["Staging (EU)"] },
  region: { description: "Free-form region label.", examples: ["eu-west"] },
  tenant_org_id: { description: "Tenant organisation that owns the environment.", examples: ["acme"] },
  listen_addr: {
    description: "Address the environment's router listens on, host:port (IPv6 in brackets).",
    examples: ["127.0.0.1:8080"],
  },
  public_base_url: {
    description: "URL users reach the environment at: http or https, no path, query or fragment.",
    examples: ["https://staging.example.com"],
  },
  gui_enabled: { description: "Serve the admin GUI (default: on for local only).", examples: [false] },
  slot: {
    description: "Capability slot the env-pack fills.",
    examples: ["deployer"],
  },
  kind: {
    description: "Env-pack descriptor <namespace>.<slot>.<name>@<semver>.",
    examples: ["greentic.deployer.local-process@0.1.0"],
  },
  pack_ref: { description: "Reference to the pack itself; defaults to kind." },
  answers_ref: {
    description: "Where the pack's own answers are stored, relative to the environment.",
    examples: ["env-packs/deployer/answers.json"],
  },
  bundle_id: { description: "Name of the bundle (its id in bundle.yaml).", examples: ["hello"] },
  customer_id: {
    description:
      "Customer the deployment is for; required outside the local environment (local defaults to local-dev).",
    examples: ["acme"],
  },
  route_binding: {
    description: "Which requests reach the deployment: hosts, path prefixes and an optional tenant selector.",
    examples: [{ hosts: ["shop.example.com"], path_prefixes: ["/"] }],
  },
  tenant_selector: {
    description: "Tenant and team the deployment serves.",
    examples: [{ tenant: "acme", team: "web" }],
  },
  revenue_share: {
    description: "Who gets what share of the revenue, in basis points that sum to exactly 10000.",
    examples: [[{ party_id: "greentic", basis_points: 10000 }]],
  },
  authorization_ref: {
    description:
      "Path of the authorization record that allowed this change, relative to the environment; kept in the audit trail.",
    examples: ["auth.json"],
  },
  config_overrides: {
    description:
      "Per-pack configuration overrides: pack id -> key -> JSON value (at most 32 packs, 64 keys each, 16 KiB).",
    examples: [{ "greentic.hello": { greeting: "hi" } }],
  },
  deployment_id: {
    description: "The bundle deployment (a ULID, as printed by `op bundles list`).",
    examples: ["01JB7Z5Q0D6E7F8G9H0J1K2M3N"],
  },
  status: { description: "New status of the deployment.", examples: ["paused"] },
  revision_id: {
    description: "The revision (a ULID, as printed by `op revisions list`).",
    examples: ["01JB7Z6S4Y2M3N4P5Q6R7S8T9V"],
  },
  bundle_path: {
    description: "The .gtbundle file to stage (built with `op bundles build`).",
    examples: ["hello.gtbundle"],
  },
  bundle_source_uri: {
    description: "Where the bundle came from (oci://, repo:// or store://), recorded on the revision.",
    examples: ["oci://registry.example.com/hello:0.1.0"],
  },
  drain_seconds: { description: "Seconds to let requests finish when the revision is drained.", examples: [30] },
  expected_lifecycle: {
    description: "Warm only if the revision is still in this state (a stale request is refused).",
    examples: ["staged"],
  },
  entries: {
    description: "The new split: one entry per revision, weights summing to exactly 100% (10000 basis points).",
    examples: [
      [
        { revision_id: "01JB7Z6S4Y2M3N4P5Q6R7S8T9V", weight_percent: 90 },
        { revision_id: "01JB7Z9X1A2B3C4D5E6F7G8H9J", weight_percent: 10 },
      ],
    ],
  },
  weight_bps: {
    description:
      "Weight in basis points, 0..10000 (10000 = 100%). Give this or weight_percent; this wins when both are given.",
    examples: [9000],
  },
  weight_percent: {
    description: "Weight in percent, 0..100 with at most two decimals (12.34 = 1234 basis points).",
    examples: [90],
  },
  updated_by: { description: "Who made the change, recorded on the split.", examples: ["alice"] },
  value: { description: "The secret value; never printed, logged or audited.", examples: ["s3cret"] },
  keep: {
    description:
      "How many of each deployment's newest revisions to keep (archived ones not counted); default the environment's retention.keep_revisions, else 3.",
    examples: [3],
  },
  keep_revisions: {
    description: "Retention policy: how many revisions of each deployment `op deploy` keeps, archiving older ones.",
    examples: [5],
  },
  tag: {
    description:
      "A name for the revision, usable wherever a revision reference is taken (traffic set canary=10): a lower-case letter, then up to 62 lower-case letters, digits or '-'; not latest, previous or stable. One revision per deployment has it.",
    examples: ["canary"],
  },
  move: {
    description:
      "Take the tag from the revision of the same deployment that has it; without this, a tag in use is refused.",
    examples: [true],
  },
  new_deployment: {
    description:
      "Allow adding a second deployment to an environment that already serves one (give each a route binding).",
    examples: [true],
  },
};

/** The same, where a verb means something more specific. */
const VERB_DOCS: Record<string, Record<string, FieldDoc>> = {
  "env init": {
    environment_id: { description: "The environment to create or check (default local).", examples: ["local"] },
    public_base_url: {
      description: "URL users reach the environment at; applied only when the environment is created.",
      examples: ["http://localhost:8080"],
    },
    deployer: { description: "The deployer to bind: local-process (default) or single-vm.", examples: ["single-vm"] },
    spec_path: {
      description: "With deployer single-vm: absolute path of the VM's DeploymentSpec.",
      examples: ["/etc/greentic/acme/deployment.yaml"],
    },
    ssh: {
      description:
        "With deployer single-vm: the VM as user@host[:port], driven over SSH from the machine op runs on (spec_path is then a file of that machine).",
      examples: ["root@vm1.example.com:22"],
    },
    known_hosts: {
      description: "With ssh: absolute path of the known_hosts file pinning the VM's host key (required with ssh).",
      examples: ["/home/me/.ssh/vm1.known_hosts"],
    },
    identity: {
      description: "With ssh: absolute path of the private key to log in with.",
      examples: ["/home/me/.ssh/id_ed25519"],
    },
  },
  "env update": {
    name: {
      description: 'New display name: {"value": "..."} sets it, {"clear": true} removes it.',
      examples: [{ value: "Staging" }],
    },
    region: {
      description: 'New region: {"value": "..."} sets it, {"clear": true} removes it.',
      examples: [{ value: "eu-west" }],
    },
    tenant_org_id: {
      description: 'New tenant organisation: {"value": "..."} or {"clear": true}.',
      examples: [{ clear: true }],
    },
    listen_addr: {
      description: 'New listen address: {"value": "host:port"} or {"clear": true}.',
      examples: [{ value: "127.0.0.1:8081" }],
    },
    public_base_url: {
      description: 'New public URL: {"value": "https://..."} or {"clear": true}.',
      examples: [{ value: "https://staging.example.com" }],
    },
    gui_enabled: {
      description: 'Admin GUI on or off: {"value": true|false} or {"clear": true}.',
      examples: [{ value: false }],
    },
  },
  "revisions tag": {
    revision_id: {
      description: "The revision to tag (a ULID; on the command line any revision reference).",
      examples: ["01JB7Z6S4Y2M3N4P5Q6R7S8T9V"],
    },
    deployment_id: {
      description: "When given, the revision must belong to this deployment.",
      examples: ["01JB7Z5Q0D6E7F8G9H0J1K2M3N"],
    },
  },
  "revisions untag": {
    tag: { description: "The tag to remove from the revision that has it.", examples: ["canary"] },
    deployment_id: {
      description:
        "The deployment whose revision has the tag; needed only when revisions of several deployments have it.",
      examples: ["01JB7Z5Q0D6E7F8G9H0J1K2M3N"],
    },
  },
  "revisions prune": {
    deployment_id: {
      description: "Only this deployment's revisions; default every deployment of the environment.",
      examples: ["01JB7Z5Q0D6E7F8G9H0J1K2M3N"],
    },
  },
  "revisions stage": {
    revision_id: {
      description:
        "Your own id for the new revision, so that a retry replays instead of staging twice; minted when absent.",
      examples: ["01JB7Z6S4Y2M3N4P5Q6R7S8T9V"],
    },
  },
  "traffic set": {
    idempotency_key: {
      description:
        "Required retry key: the same key with the same entries is a no-op; with other entries it is refused.",
      examples: ["canary-1"],
    },
  },
  "traffic rollback": {
    updated_by: { description: "Who rolled back, recorded on the restored split.", examples: ["alice"] },
  },
  "secrets put": {
    name: {
      description: "Secret name: /-separated segments of letters, digits, _, - and .",
      examples: ["db/password"],
    },
  },
  "secrets rotate": {
    name: {
      description: "Secret name: /-separated segments of letters, digits, _, - and .",
      examples: ["db/password"],
    },
    value: {
      description: "The new value; when absent the secrets backend generates a random one.",
      examples: ["n3w-s3cret"],
    },
  },
  "secrets delete": { name: { description: "Secret name to delete.", examples: ["db/password"] } },
  "deploy run": {
    environment_id: { description: "The environment to deploy to (default local).", examples: ["local"] },
    bundle_path: { description: "The .gtbundle file to deploy.", examples: ["hello.gtbundle"] },
    bundle_id: { description: "Name of the bundle; defaults to the file's stem.", examples: ["hello"] },
    traffic_bps: {
      description:
        "Share of the traffic the new revision takes once ready, in basis points (default 10000); the rest stays on the current revision.",
      examples: [100],
    },
  },
};

/**
 * Adds a description (and examples) to every field of an answers shape, from
 * {@link FIELD_DOCS} and the verb's {@link VERB_DOCS}; they show in the generated JSON Schema
 * and in `op <verb> --example`.
 */
function documented<S extends Record<string, z.ZodType>>(verbs: readonly string[], shape: S): S {
  const out: Record<string, z.ZodType> = {};
  for (const [field, schema] of Object.entries(shape)) {
    const doc = verbs.map((v) => VERB_DOCS[v]?.[field]).find((d) => d !== undefined) ?? FIELD_DOCS[field];
    out[field] =
      doc === undefined
        ? schema
        : schema.meta(
            doc.examples === undefined
              ? { description: doc.description }
              : { description: doc.description, examples: doc.examples },
          );
  }
  return out as S;
}

const envId = { environment_id: EnvIdSchema };
const idem = { idempotency_key: IdempotencyKeySchema.optional() };

export const EnvCreateAnswersSchema = z.strictObject(
  documented(["env create"], {
    ...envId,
    /** Display name; defaults to the environment id. */
    name: z.string().min(1).optional(),
    region: z.string().optional(),
    tenant_org_id: z.string().optional(),
    listen_addr: SocketAddrSchema.optional(),
    public_base_url: PublicBaseUrlSchema.optional(),
    gui_enabled: z.boolean().optional(),
    ...idem,
  }),
);
export type EnvCreateAnswers = z.output<typeof EnvCreateAnswersSchema>;

export const EnvUpdateAnswersSchema = z.strictObject(
  documented(["env update"], {
    ...envId,
    name: fieldUpdate(z.string().min(1)).optional(),
    region: fieldUpdate(z.string()).optional(),
    tenant_org_id: fieldUpdate(z.string()).optional(),
    listen_addr: fieldUpdate(SocketAddrSchema).optional(),
    public_base_url: fieldUpdate(PublicBaseUrlSchema).optional(),
    gui_enabled: fieldUpdate(z.boolean()).optional(),
    ...idem,
  }),
);
export type EnvUpdateAnswers = z.output<typeof EnvUpdateAnswersSchema>;

export const EnvInitAnswersSchema = z
  .strictObject(
    documented(["env init"], {
      environment_id: EnvIdSchema.default("local"),
      /** Applied only when the environment is created. */
      public_base_url: PublicBaseUrlSchema.optional(),
      /**
       * On an existing environment, also bind the default slots only this implementation binds
       * (`revocation`); without it such an environment (one the reference created) is left untouched.
       */
      heal: z
        .boolean()
        .optional()
        .meta({
          description:
            "On an existing environment, also bind the default slots only this implementation adds (revocation); without it an environment the reference created is left untouched.",
          examples: [true],
        }),
      /**
       * The deployer to bind: `local-process` (default) or `single-vm`, which deploys to this VM as
       * the DeploymentSpec at `spec_path` describes.
       */
      deployer: z.enum(["local-process", "single-vm"]).optional(),
      /** With `deployer: single-vm`: absolute path of the VM's DeploymentSpec (YAML or JSON). */
      spec_path: z.string().startsWith("/", "must be an absolute path").optional(),
      /** With `deployer: single-vm`: the VM as `user@host[:port]`, driven over SSH. */
      ssh: z.string().min(1).max(300).optional(),
      /** With `ssh`: the known_hosts file pinning the VM's host key. */
      known_hosts: z.string().startsWith("/", "must be an absolute path").optional(),
      /** With `ssh`: the private key to log in with. */
      identity: z.string().startsWith("/", "must be an absolute path").optional(),
      ...idem,
    }),
  )
  .superRefine((v, ctx) => {
    if (v.ssh !== undefined && v.deployer !== "single-vm")
      ctx.addIssue({ code: "custom", path: ["ssh"], message: "applies to deployer single-vm only" });
    if (v.ssh !== undefined && v.known_hosts === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["known_hosts"],
        message: "is required with ssh (the VM's pinned host key)",
      });
    for (const key of ["known_hosts", "identity"] as const)
      if (v[key] !== undefined && v.ssh === undefined)
        ctx.addIssue({ code: "custom", path: [key], message: "applies with ssh only" });
    if (v.deployer === "single-vm" && v.spec_path === undefined)
      ctx.addIssue({ code: "custom", path: ["spec_path"], message: "is required with deployer single-vm" });
    if (v.spec_path !== undefined && v.deployer !== "single-vm")
      ctx.addIssue({ code: "custom", path: ["spec_path"], message: "applies to deployer single-vm only" });
  });
export type EnvInitAnswers = z.output<typeof EnvInitAnswersSchema>;

export const EnvPacksAddAnswersSchema = z.strictObject(
  documented(["env-packs add"], {
    ...envId,
    slot: CapabilitySlotSchema,
    kind: PackDescriptorSchema,
    /** Defaults to `kind`. */
    pack_ref: z.string().min(1).optional(),
    answers_ref: z.string().optional(),
    ...idem,
  }),
);
export type EnvPacksAddAnswers = z.output<typeof EnvPacksAddAnswersSchema>;
export const EnvPacksUpdateAnswersSchema = EnvPacksAddAnswersSchema;
export type EnvPacksUpdateAnswers = EnvPacksAddAnswers;

export const EnvPacksSlotAnswersSchema = z.strictObject(
  documented(["env-packs remove", "env-packs rollback"], { ...envId, slot: CapabilitySlotSchema, ...idem }),
);
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
  .strictObject(
    documented(["bundles add"], {
      ...envId,
      bundle_id: BundleIdSchema,
      /** Required outside the `local` environment; `local` defaults to `local-dev`. */
      customer_id: CustomerIdSchema.optional(),
      route_binding: RouteBindingAnswersSchema.optional(),
      revenue_share: z.array(RevenueShareEntryAnswersSchema).optional(),
      authorization_ref: z.string().min(1).default("auth.json"),
      config_overrides: ConfigOverridesSchema.optional(),
      ...idem,
    }),
  )
  .superRefine(refineRevenueShare);
export type BundlesAddAnswers = z.output<typeof BundlesAddAnswersSchema>;

export const BundlesUpdateAnswersSchema = z
  .strictObject(
    documented(["bundles update"], {
      ...envId,
      deployment_id: UlidSchema,
      status: z.enum(BUNDLE_STATUSES).optional(),
      route_binding: RouteBindingAnswersSchema.optional(),
      revenue_share: z.array(RevenueShareEntryAnswersSchema).optional(),
      config_overrides: ConfigOverridesSchema.optional(),
      ...idem,
    }),
  )
  .superRefine(refineRevenueShare);
export type BundlesUpdateAnswers = z.output<typeof BundlesUpdateAnswersSchema>;

export const BundlesRemoveAnswersSchema = z.strictObject(
  documented(["bundles remove"], { ...envId, deployment_id: UlidSchema, ...idem }),
);
export type BundlesRemoveAnswers = z.output<typeof BundlesRemoveAnswersSchema>;

export const RevisionsStageAnswersSchema = z.strictObject(
  documented(["revisions stage"], {
    ...envId,
    deployment_id: UlidSchema,
    /** Caller-chosen id so that a retry replays instead of staging twice; minted when absent. */
    revision_id: UlidSchema.optional(),
    /** The `.gtbundle` file to stage. */
    bundle_path: z.string().min(1).optional(),
    bundle_source_uri: z.string().optional(),
    drain_seconds: z.number().int().min(0).max(4_294_967_295).optional(),
    ...idem,
  }),
);
export type RevisionsStageAnswers = z.output<typeof RevisionsStageAnswersSchema>;

export const RevisionsWarmAnswersSchema = z.strictObject(
  documented(["revisions warm"], {
    ...envId,
    revision_id: UlidSchema,
    /** When given, the revision must still be in this state (a stale health gate is refused). */
    expected_lifecycle: LifecycleStateSchema.optional(),
    ...idem,
  }),
);
export type RevisionsWarmAnswers = z.output<typeof RevisionsWarmAnswersSchema>;

export const RevisionsTargetAnswersSchema = z.strictObject(
  documented(["revisions drain", "revisions archive"], { ...envId, revision_id: UlidSchema, ...idem }),
);
export type RevisionsTargetAnswers = z.output<typeof RevisionsTargetAnswersSchema>;

export const RevisionsTagAnswersSchema = z.strictObject(
  documented(["revisions tag"], {
    ...envId,
    revision_id: UlidSchema,
    tag: RevisionTagSchema,
    deployment_id: UlidSchema.optional(),
    move: z.boolean().optional(),
    ...idem,
  }),
);
export type RevisionsTagAnswers = z.output<typeof RevisionsTagAnswersSchema>;

export const RevisionsUntagAnswersSchema = z.strictObject(
  documented(["revisions untag"], {
    ...envId,
    tag: RevisionTagSchema,
    deployment_id: UlidSchema.optional(),
    ...idem,
  }),
);
export type RevisionsUntagAnswers = z.output<typeof RevisionsUntagAnswersSchema>;

export const RevisionsPruneAnswersSchema = z.strictObject(
  documented(["revisions prune"], {
    ...envId,
    /** Only this deployment's revisions; default every deployment of the environment. */
    deployment_id: UlidSchema.optional(),
    /**
     * How many of each deployment's newest revisions to keep (archived ones not counted);
     * default the environment's `retention.keep_revisions`, else 3.
     */
    keep: z.number().int().min(1).max(1000).optional(),
    ...idem,
  }),
);
export type RevisionsPruneAnswers = z.output<typeof RevisionsPruneAnswersSchema>;

export const TrafficEntryAnswersSchema = z.strictObject(
  documented(["traffic set"], {
    revision_id: UlidSchema,
    /** Basis points 0..10000; wins over `weight_percent` when both are given. */
    weight_bps: z.number().optional(),
    /** Percent 0..100 with at most two decimals (a whole number of basis points). */
    weight_percent: z.number().optional(),
  }),
);
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
    // Reported in the unit the weights were given in.
    const inPercent = entries.every((e) => e.weight_bps === undefined && e.weight_percent !== undefined);
    issues.push({
      path: "entries",
      code: "basis-points-sum",
      message: inPercent
        ? `weights sum to ${sum / 100}%; they must sum to exactly 100%`
        : `weights sum to ${sum} basis points; they must sum to exactly 10000`,
    });
  }
  return { entries: out, issues };
}

export const TrafficSetAnswersSchema = z
  .strictObject(
    documented(["traffic set"], {
      ...envId,
      deployment_id: UlidSchema,
      entries: z.array(TrafficEntryAnswersSchema),
      /** Required: a retry with the same key and entries is a no-op. */
      idempotency_key: IdempotencyKeySchema,
      updated_by: z.string().min(1).default("operator"),
      authorization_ref: z.string().min(1).default("auth.json"),
    }),
  )
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

export const TrafficRollbackAnswersSchema = z.strictObject(
  documented(["traffic rollback"], {
    ...envId,
    deployment_id: UlidSchema,
    updated_by: z.string().min(1).optional(),
    ...idem,
  }),
);
export type TrafficRollbackAnswers = z.output<typeof TrafficRollbackAnswersSchema>;

export const ConfigSetAnswersSchema = z.strictObject(
  documented(["config set"], {
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
  }),
);
export type ConfigSetAnswers = z.output<typeof ConfigSetAnswersSchema>;

/** Secret names: `/`-separated segments of `[A-Za-z0-9_.-]`, no segment starting with `.`. */
export const SecretNameSchema = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/, {
  error: (iss) =>
    `secret name ${JSON.stringify(iss.input)} must be /-separated segments of letters, digits, "_", "-", "." (no segment starting with ".")`,
});

export const SecretsPutAnswersSchema = z.strictObject(
  documented(["secrets put"], { ...envId, name: SecretNameSchema, value: z.string(), ...idem }),
);
export type SecretsPutAnswers = z.output<typeof SecretsPutAnswersSchema>;
export const SecretsRotateAnswersSchema = z.strictObject(
  documented(["secrets rotate"], {
    ...envId,
    name: SecretNameSchema,
    /** The new value; when absent a random one is generated by the secrets backend. */
    value: z.string().optional(),
    ...idem,
  }),
);
export type SecretsRotateAnswers = z.output<typeof SecretsRotateAnswersSchema>;
export const SecretsDeleteAnswersSchema = z.strictObject(
  documented(["secrets delete"], { ...envId, name: SecretNameSchema, ...idem }),
);
export type SecretsDeleteAnswers = z.output<typeof SecretsDeleteAnswersSchema>;

export const DeployAnswersSchema = z
  .strictObject(
    documented(["deploy run"], {
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
      /**
       * Share of the deployment's traffic the new revision takes once ready, in basis points
       * (default 10000: all of it). Below 10000 the rest stays on the revision that had the most
       * traffic: a canary beside the stable one.
       */
      traffic_bps: z.number().int().min(1).max(10_000).optional(),
      ...idem,
    }),
  )
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
  "revisions tag": RevisionsTagAnswersSchema,
  "revisions untag": RevisionsUntagAnswersSchema,
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
