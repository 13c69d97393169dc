import type {
  BundleDeployment,
  Revision,
  TrafficSplit,
  AddBundleResult,
  RemoveBundleResult,
  UpdateBundleResult,
} from "@greentic/deploy-spec";
import { resolveDeploymentRef } from "./refs.js";
import {
  answersEntry,
  checkEnvArgument,
  mutate,
  parseAnswers,
  progress,
  withCommit,
  type OperationsContext,
} from "./context.js";
import { deployerOf, required, routeOf } from "./lookups.js";
import type { Mutated, MutationOptions } from "./types.js";

/** `op bundles list <env>` result. */
export interface BundlesListResult {
  environment_id: string;
  bundles: BundleDeployment[];
}

/** `op bundles show <env> <deployment>`: the deployment, its revisions and its traffic split. */
export interface BundleShowResult {
  environment_id: string;
  deployment: BundleDeployment;
  revisions: Revision[];
  traffic_split: TrafficSplit | null;
}

/** `op bundles add`: a new bundle deployment, one per `(bundle_id, customer_id)`. */
export async function bundlesAdd(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<AddBundleResult>> {
  const payload = await parseAnswers("bundles add", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "bundles",
    verb: "add",
    payload,
    options,
    transform: (current, tx) => engine.addBundle(required(current, payload.environment_id), payload, tx),
  });
  return withCommit(outcome);
}

/** `op bundles update`: status, route binding, revenue share, config overrides. */
export async function bundlesUpdate(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<UpdateBundleResult>> {
  const payload = await parseAnswers("bundles update", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "bundles",
    verb: "update",
    payload,
    options,
    transform: (current, tx) => engine.updateBundle(required(current, payload.environment_id), payload, tx),
  });
  if (payload.route_binding !== undefined) await rerouteDeployment(ctx, payload.environment_id, payload.deployment_id);
  return withCommit(outcome);
}

/**
 * After a route binding changed: the deployer serves the deployment's split again with the new
 * binding, so the router routes by it now, not at the next `op traffic set`. The binding is
 * committed already; a deployer that cannot apply it is reported, and `op traffic set` retries.
 */
async function rerouteDeployment(ctx: OperationsContext, envId: string, deploymentId: string): Promise<void> {
  const { environment: env } = await ctx.store.load(envId);
  const split = env.traffic_splits.find((s) => s.deployment_id === deploymentId);
  if (split === undefined || !env.packs.some((p) => p.slot === "deployer")) return;
  try {
    const { deployer, hctx } = await deployerOf(ctx, env);
    await deployer.applyTrafficSplit(hctx, {
      split: {
        deployment_id: split.deployment_id,
        bundle_id: split.bundle_id,
        entries: split.entries,
        generation: split.generation,
        route: routeOf(env, deploymentId),
      },
      revisions: env.revisions.map((r) => ({
        revision_id: r.revision_id,
        deployment_id: r.deployment_id,
        bundle_id: r.bundle_id,
      })),
    });
  } catch (error) {
    progress(ctx, "bundles.reroute-failed", (error as Error).message, { deployment_id: deploymentId });
  }
}

/** `op bundles remove`: refused while the deployment has a split or unarchived revisions. */
export async function bundlesRemove(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<RemoveBundleResult>> {
  const payload = await parseAnswers("bundles remove", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "bundles",
    verb: "remove",
    payload,
    options,
    transform: (current, tx) => engine.removeBundle(required(current, payload.environment_id), payload, tx),
  });
  return withCommit(outcome);
}

/** `op bundles list <env>`. */
export async function bundlesList(ctx: OperationsContext, envId: string): Promise<BundlesListResult> {
  const id = checkEnvArgument(envId);
  const { environment } = await ctx.store.load(id);
  return { environment_id: id, bundles: environment.bundles };
}

/** `op bundles show <env> <deployment>`: the deployment is an id, a unique id prefix or its bundle id. */
export async function bundlesShow(
  ctx: OperationsContext,
  envId: string,
  reference: string,
  options: { label?: string | undefined } = {},
): Promise<BundleShowResult> {
  const id = checkEnvArgument(envId);
  const { environment } = await ctx.store.load(id);
  const deployment = resolveDeploymentRef(environment, reference, { label: options.label });
  const deploymentId = deployment.deployment_id;
  return {
    environment_id: id,
    deployment,
    revisions: environment.revisions.filter((r) => r.deployment_id === deploymentId),
    traffic_split: environment.traffic_splits.find((s) => s.deployment_id === deploymentId) ?? null,
  };
}
