import { basename } from "node:path";
import { GreenticError, LOCAL_CUSTOMER_ID, type RouteBinding } from "@greentic/deploy-spec";
import { bundlesAdd, bundlesUpdate } from "./bundles.js";
import { parseAnswers, progress, type OperationsContext } from "./context.js";
import { checkBundleFile, revisionsStage, revisionsWarm } from "./revisions.js";
import { trafficSet } from "./traffic.js";
import type { MutationOptions } from "./types.js";

/** `op deploy` result. */
export interface DeployResult {
  environment_id: string;
  bundle_id: string;
  customer_id: string;
  deployment_id: string;
  /** True when this deploy added the bundle deployment. */
  created_deployment: boolean;
  /** The new revision, now `ready` with 100 % of the deployment's traffic. */
  revision_id: string;
  /** Where the new revision itself answers (from the deployer), or null when the deployer gives none. */
  url: string | null;
  /**
   * The environment's URL (the deployer's router), which follows the traffic split: after the
   * deploy it serves the new revision. Null when the deployer has no router.
   */
  environment_url: string | null;
  /** The revision that had the most traffic before; kept `ready` for `op traffic rollback`. */
  previous_revision_id?: string;
}

/** Sub-key of a deploy's idempotency key for one of its steps (each step is its own transaction). */
function stepKey(key: string | undefined, step: string): string | undefined {
  return key === undefined ? undefined : `${key}:${step}`;
}

/**
 * `op deploy`: one shot. Adds the bundle deployment if `(bundle_id, customer_id)` is new
 * (the `local` environment defaults the customer to `local-dev`), stages the bundle, warms
 * it through the deployer's health gate, and moves 100 % of the traffic to it. The previous
 * revision stays `ready`, so `op traffic rollback` goes back to it. With an idempotency key
 * every step is retried safely (a failed deploy can be re-run with the same key).
 *
 * The caller's precondition guards the first write, whichever it is: adding or updating the
 * bundle (a store transaction: refused with nothing written), or staging, which checks the
 * pin and its step key before copying anything; warming checks its step key before starting
 * the runtime. So a stale pin or a reused key leaves no files and starts no process.
 */
export async function deploy(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<DeployResult> {
  const payload = parseAnswers("deploy run", answers, options);
  const envId = payload.environment_id;
  if (payload.customer_id === undefined && envId !== "local") {
    throw new GreenticError("invalid-argument", `customer_id is required to deploy to environment ${envId}`, {
      path: "customer_id",
      hint: `only the local environment defaults it to ${LOCAL_CUSTOMER_ID}`,
    });
  }
  // Input first, before anything is looked up or written.
  await checkBundleFile(payload.bundle_path, "bundle_path", options.source);
  const key = options.idempotencyKey ?? payload.idempotency_key;
  const bundleId = payload.bundle_id ?? basename(payload.bundle_path).replace(/\.gtbundle$/u, "");
  const customerId = payload.customer_id ?? LOCAL_CUSTOMER_ID;
  let routeBinding: RouteBinding | undefined = payload.route_binding;
  if (payload.tenant_selector !== undefined)
    routeBinding = { hosts: [], path_prefixes: [], ...routeBinding, tenant_selector: payload.tenant_selector };

  const { environment } = await ctx.store.load(envId);
  // The caller's precondition pins the state it read: it guards the first write only.
  let precondition = options.precondition;
  const firstWrite = () => {
    const pinned = precondition;
    precondition = undefined;
    return pinned;
  };
  let deployment = environment.bundles.find((b) => b.bundle_id === bundleId && b.customer_id === customerId);
  const created = deployment === undefined;
  if (deployment === undefined) {
    progress(ctx, "deploy.bundle", `adding bundle ${bundleId} for customer ${customerId}`, { bundle_id: bundleId });
    const added = await bundlesAdd(
      ctx,
      {
        environment_id: envId,
        bundle_id: bundleId,
        customer_id: customerId,
        ...(routeBinding === undefined ? {} : { route_binding: routeBinding }),
        ...(payload.revenue_share === undefined ? {} : { revenue_share: payload.revenue_share }),
        ...(payload.config_overrides === undefined ? {} : { config_overrides: payload.config_overrides }),
      },
      { idempotencyKey: stepKey(key, "bundles-add"), precondition: firstWrite() },
    );
    deployment = added.deployment;
  } else if (
    routeBinding !== undefined ||
    payload.revenue_share !== undefined ||
    payload.config_overrides !== undefined
  ) {
    progress(ctx, "deploy.bundle", `updating bundle ${bundleId} for customer ${customerId}`, { bundle_id: bundleId });
    const updated = await bundlesUpdate(
      ctx,
      {
        environment_id: envId,
        deployment_id: deployment.deployment_id,
        ...(routeBinding === undefined ? {} : { route_binding: routeBinding }),
        ...(payload.revenue_share === undefined ? {} : { revenue_share: payload.revenue_share }),
        ...(payload.config_overrides === undefined ? {} : { config_overrides: payload.config_overrides }),
      },
      { idempotencyKey: stepKey(key, "bundles-update"), precondition: firstWrite() },
    );
    deployment = updated.deployment;
  }
  const deploymentId = deployment.deployment_id;
  const previousSplit = environment.traffic_splits.find((s) => s.deployment_id === deploymentId);
  const previous = previousSplit?.entries.reduce((best, e) => (e.weight_bps > best.weight_bps ? e : best));

  progress(ctx, "deploy.stage", `staging ${payload.bundle_path}`, { deployment_id: deploymentId });
  const staged = await revisionsStage(
    ctx,
    { environment_id: envId, deployment_id: deploymentId, bundle_path: payload.bundle_path },
    { idempotencyKey: stepKey(key, "stage"), precondition: firstWrite(), source: options.source },
  );
  const revisionId = staged.revision.revision_id;

  progress(ctx, "deploy.warm", `warming revision ${revisionId}`, { revision_id: revisionId });
  const warmed = await revisionsWarm(
    ctx,
    { environment_id: envId, revision_id: revisionId },
    { idempotencyKey: stepKey(key, "warm") },
  );

  progress(ctx, "deploy.traffic", `moving 100% of the traffic to revision ${revisionId}`, { revision_id: revisionId });
  const moved = await trafficSet(ctx, {
    environment_id: envId,
    deployment_id: deploymentId,
    entries: [{ revision_id: revisionId, weight_bps: 10_000 }],
    idempotency_key: stepKey(key, "traffic") ?? `deploy-${revisionId}`,
    updated_by: "op deploy",
  });

  const result: DeployResult = {
    environment_id: envId,
    bundle_id: bundleId,
    customer_id: customerId,
    deployment_id: deploymentId,
    created_deployment: created,
    revision_id: revisionId,
    url: warmed.url ?? null,
    environment_url: moved.environment_url,
  };
  if (previous !== undefined && previous.revision_id !== revisionId) result.previous_revision_id = previous.revision_id;
  progress(ctx, "deploy.done", `revision ${revisionId} serves ${result.environment_url ?? result.url ?? "(no url)"}`, {
    revision_id: revisionId,
    url: result.url,
    environment_url: result.environment_url,
  });
  return result;
}
