import {
  engine,
  type AddBundleResult,
  type BundleDeployment,
  type RemoveBundleResult,
  type Revision,
  type TrafficSplit,
  type UpdateBundleResult,
} from "@greentic/deploy-spec";
import { resolveDeploymentRef } from "./refs.js";
import { checkEnvArgument, mutate, parseAnswers, withCommit, type OperationsContext } from "./context.js";
import { required } from "./lookups.js";
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
  const payload = parseAnswers("bundles add", answers, options);
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
  const payload = parseAnswers("bundles update", answers, options);
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "bundles",
    verb: "update",
    payload,
    options,
    transform: (current, tx) => engine.updateBundle(required(current, payload.environment_id), payload, tx),
  });
  return withCommit(outcome);
}

/** `op bundles remove`: refused while the deployment has a split or unarchived revisions. */
export async function bundlesRemove(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<RemoveBundleResult>> {
  const payload = parseAnswers("bundles remove", answers, options);
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
