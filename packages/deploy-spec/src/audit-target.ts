/**
 * The audit `target` of a mutating verb, shaped as the reference fills it (its `src/cli/*.rs`
 * `AuditCtx` targets), so that a log both tools append to reads the same way. Built from the
 * answers payload only: config override values and secret values never appear (override keys
 * are listed by name, as the reference does). `undefined` for a verb the reference does not have.
 */
export function auditTargetFor(noun: string, verb: string, payload: unknown): Record<string, unknown> | undefined {
  const p = (payload ?? {}) as Record<string, unknown>;
  const env = { environment_id: p.environment_id };
  const overridesShape = (value: unknown) =>
    Object.fromEntries(
      Object.entries((value ?? {}) as Record<string, Record<string, unknown>>).map(([pack, keys]) => [
        pack,
        Object.keys(keys ?? {}),
      ]),
    );
  const fields = (keep: (k: string) => boolean) => Object.keys(p).filter(keep).sort();
  const notMeta = (k: string) => k !== "environment_id" && k !== "idempotency_key" && p[k] !== undefined;
  switch (`${noun} ${verb}`) {
    case "env create":
    case "env set-public-url":
      return env;
    case "env update":
      return { ...env, fields: fields(notMeta) };
    case "env init":
      return { ...env, public_base_url_applied: p.public_base_url !== undefined };
    case "env destroy":
      return { ...env, confirm: p.confirm === true };
    case "config set":
      return { fields: fields(notMeta) };
    case "env-packs add":
    case "env-packs update":
      return { slot: p.slot, kind: p.kind };
    case "env-packs remove":
    case "env-packs rollback":
      return { slot: p.slot };
    case "bundles add":
      return {
        bundle_id: p.bundle_id,
        customer_id: p.customer_id,
        revenue_share: p.revenue_share,
        config_overrides: overridesShape(p.config_overrides),
      };
    case "bundles update": {
      const target: Record<string, unknown> = { deployment_id: p.deployment_id };
      if (p.revenue_share !== undefined) target.revenue_share = p.revenue_share;
      if (p.config_overrides !== undefined) target.config_overrides = overridesShape(p.config_overrides);
      return target;
    }
    case "bundles remove":
    case "traffic set":
    case "traffic rollback":
      return { deployment_id: p.deployment_id };
    case "revisions stage":
      return { deployment_id: p.deployment_id, lifecycle_to: "staged" };
    case "revisions warm":
      return { revision_id: p.revision_id, lifecycle_to: "ready" };
    case "revisions drain":
      return { revision_id: p.revision_id, lifecycle_to: "draining" };
    case "revisions archive":
      return { revision_id: p.revision_id, lifecycle_to: "archived" };
    case "secrets put":
    case "secrets rotate":
    case "secrets delete":
      return { path: p.name };
    default:
      return undefined;
  }
}
