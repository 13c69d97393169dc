import {
  DEFAULT_REVENUE_SHARE,
  RouteBindingAnswersSchema,
  type BundlesAddAnswers,
  type BundlesRemoveAnswers,
  type BundlesUpdateAnswers,
} from "../answers.js";
import { SCHEMA_IDS, type BundleDeployment, type Environment } from "../documents.js";
import { GreenticError } from "../errors.js";
import { checkIdentifier } from "../ids.js";
import { checkRouteBinding } from "./route-bindings.js";
import { checkTarget, clone, compact, finish, notFound, type EngineContext, type EngineOutput } from "./shared.js";

/** Customer id used in the `local` environment when none is given. */
export const LOCAL_CUSTOMER_ID = "local-dev";

/** Where the signed revenue policy of a deployment lives, relative to the environment dir. */
export function revenuePolicyRef(bundleId: string, customerId: string, version: number): string {
  return `billing-policies/${bundleId}/${customerId}/v${version}.json`;
}

export function findDeployment(env: Environment, deploymentId: string): BundleDeployment {
  const dep = env.bundles.find((b) => b.deployment_id === deploymentId);
  if (!dep)
    throw notFound(
      `deployment ${deploymentId} in environment ${env.environment_id}`,
      "list deployments with `op bundles list`",
      { deployment_id: deploymentId },
    );
  return dep;
}

export interface AddBundleResult {
  deployment: BundleDeployment;
}

/**
 * `op bundles add`: a new bundle deployment (`status: active`, minted `deployment_id`). One per
 * `(bundle_id, customer_id)`; outside `local` the customer id is required.
 */
export function addBundle(
  env: Environment,
  payload: BundlesAddAnswers,
  ctx: EngineContext,
): EngineOutput<AddBundleResult> {
  checkTarget(env, payload);
  // Ids become path segments and log fields: checked here too, for callers that bypass the
  // answers schema (op deploy derives the bundle id from the file name).
  for (const [field, value] of [
    ["bundle_id", payload.bundle_id],
    ["customer_id", payload.customer_id],
  ] as const) {
    const problem = value === undefined ? null : checkIdentifier(value, field.replace("_", " "));
    if (problem)
      throw new GreenticError("invalid-argument", problem.message, {
        path: field,
        hint: "ids use ASCII letters, digits, '.', '_' and '-' only, and do not start with '.'",
        details: { code: problem.code },
      });
  }
  let customerId = payload.customer_id;
  if (customerId === undefined) {
    if (env.environment_id !== "local") {
      throw new GreenticError(
        "invalid-argument",
        `customer_id is required for bundles in environment ${env.environment_id}`,
        { path: "customer_id", hint: `only the local environment defaults it to ${LOCAL_CUSTOMER_ID}` },
      );
    }
    customerId = LOCAL_CUSTOMER_ID;
  }
  const dup = env.bundles.find((b) => b.bundle_id === payload.bundle_id && b.customer_id === customerId);
  if (dup) {
    throw new GreenticError(
      "conflict",
      `bundle ${payload.bundle_id} is already deployed for customer ${customerId} (deployment ${dup.deployment_id})`,
      {
        hint: "use `op bundles update` or stage a new revision on that deployment",
        details: { code: "already-exists", deployment_id: dup.deployment_id },
      },
    );
  }
  const deployment: BundleDeployment = compact({
    schema: SCHEMA_IDS.bundleDeployment,
    deployment_id: ctx.newId(),
    env_id: env.environment_id,
    bundle_id: payload.bundle_id,
    customer_id: customerId,
    status: "active" as const,
    current_revisions: [],
    route_binding: payload.route_binding ?? RouteBindingAnswersSchema.parse({}),
    revenue_share: payload.revenue_share ?? DEFAULT_REVENUE_SHARE.map((s) => ({ ...s })),
    // No signed policy file is written here (the reference signs one with the operator key),
    // so no file is named: an empty path, as the reference records for an absent lock.
    revenue_policy_ref: "",
    created_at: ctx.now,
    authorization_ref: payload.authorization_ref,
    config_overrides: payload.config_overrides,
  });
  checkRouteBinding(deployment, env.bundles);
  const next = clone(env);
  next.bundles.push(deployment);
  return finish(next, { deployment });
}

export interface UpdateBundleResult {
  deployment: BundleDeployment;
  /** True when a new revenue share was given (the backend then writes the next policy version). */
  revenue_share_changed: boolean;
}

/** `op bundles update`: patches status, route binding, revenue share and config overrides. */
export function updateBundle(
  env: Environment,
  payload: BundlesUpdateAnswers,
  _ctx: EngineContext,
): EngineOutput<UpdateBundleResult> {
  checkTarget(env, payload);
  findDeployment(env, payload.deployment_id);
  const next = clone(env);
  const dep = next.bundles.find((b) => b.deployment_id === payload.deployment_id)!;
  if (payload.status !== undefined) dep.status = payload.status;
  if (payload.route_binding !== undefined) dep.route_binding = payload.route_binding;
  if (payload.config_overrides !== undefined) {
    if (Object.keys(payload.config_overrides).length === 0) delete dep.config_overrides;
    else dep.config_overrides = payload.config_overrides;
  }
  // A binding is checked whenever it or the status changes (un-archiving can bring a clash back).
  if (payload.route_binding !== undefined || payload.status !== undefined) checkRouteBinding(dep, next.bundles);
  const revenueChanged = payload.revenue_share !== undefined;
  if (payload.revenue_share !== undefined) dep.revenue_share = payload.revenue_share;
  return finish(next, { deployment: dep, revenue_share_changed: revenueChanged });
}

export interface RemoveBundleResult {
  deployment_id: string;
  pruned_revision_ids: string[];
}

/**
 * `op bundles remove`: refused while a traffic split points at the deployment or any of its
 * revisions is not archived; on success its archived revisions are pruned.
 */
export function removeBundle(
  env: Environment,
  payload: BundlesRemoveAnswers,
  _ctx: EngineContext,
): EngineOutput<RemoveBundleResult> {
  checkTarget(env, payload);
  const dep = findDeployment(env, payload.deployment_id);
  const activeSplits = env.traffic_splits
    .filter((s) => s.deployment_id === dep.deployment_id)
    .map((s) => ({ deployment_id: s.deployment_id, bundle_id: s.bundle_id, generation: s.generation }));
  const activeRevisions = env.revisions
    .filter((r) => r.deployment_id === dep.deployment_id && r.lifecycle !== "archived")
    .map((r) => ({ revision_id: r.revision_id, lifecycle: r.lifecycle }));
  if (activeSplits.length > 0 || activeRevisions.length > 0) {
    const parts: string[] = [];
    if (activeSplits.length > 0) parts.push("it still has a traffic split");
    if (activeRevisions.length > 0)
      parts.push(
        `revisions ${activeRevisions.map((r) => `${r.revision_id} (${r.lifecycle})`).join(", ")} are not archived`,
      );
    throw new GreenticError("conflict", `deployment ${dep.deployment_id} is still live: ${parts.join("; ")}`, {
      hint: "archive its revisions (after moving traffic away) before removing the bundle",
      details: { code: "still-live", active_splits: activeSplits, active_revisions: activeRevisions },
    });
  }
  const next = clone(env);
  const pruned = next.revisions.filter((r) => r.deployment_id === dep.deployment_id).map((r) => r.revision_id);
  next.revisions = next.revisions.filter((r) => r.deployment_id !== dep.deployment_id);
  next.bundles = next.bundles.filter((b) => b.deployment_id !== dep.deployment_id);
  return finish(next, { deployment_id: dep.deployment_id, pruned_revision_ids: pruned });
}
