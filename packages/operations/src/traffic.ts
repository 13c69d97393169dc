import { userInfo } from "node:os";
import {
  projectRuntimeConfig,
  type Environment,
  type RuntimeConfig,
  type TrafficSplit,
} from "@greentic/deploy-spec/documents";
import type { RollbackTrafficResult, SetTrafficResult } from "@greentic/deploy-spec";
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
import { resolveDeploymentRef } from "./refs.js";
import { environmentRouter, routerOf } from "./router.js";
import { trafficDrift, type TrafficDrift } from "./status.js";
import type { Mutated, MutationOptions } from "./types.js";

/** `op traffic show <env> [--deployment]`: the splits and the runtime-config projection. */
export interface TrafficShowResult {
  environment_id: string;
  splits: TrafficSplit[];
  /** What `runtime-config.json` holds (null when no split exists). */
  runtime_config: RuntimeConfig | null;
  /** The URL of the environment's router, which follows the splits; null when none serves. */
  environment_url: string | null;
  /**
   * Deployments the router serves differently from the store (a crash between a commit and the
   * router update), until the router's supervisor or the next traffic command applies the
   * stored split. Absent when there is none. `traffic show` only reads: it writes nothing.
   */
  drift?: TrafficDrift[];
}

/** Added to the `traffic set` / `traffic rollback` results. */
export interface TrafficApplied {
  /** The URL of the environment's router once it serves the new split; null when the deployer has none. */
  environment_url: string | null;
}

/** `op traffic set` result. */
export type TrafficSetResult = Mutated<SetTrafficResult & TrafficApplied>;

/** `op traffic rollback` result. */
export type TrafficRollbackResult = Mutated<RollbackTrafficResult & TrafficApplied>;

/** Applies the split through the bound deployer; returns the environment's URL afterwards. */
async function applyToDeployer(ctx: OperationsContext, env: Environment, split: TrafficSplit): Promise<TrafficApplied> {
  const { deployer, hctx } = await deployerOf(ctx, env);
  progress(
    ctx,
    "traffic.apply",
    `applying traffic split generation ${split.generation} of deployment ${split.deployment_id}`,
    { deployment_id: split.deployment_id },
  );
  await deployer.applyTrafficSplit(hctx, {
    split: {
      deployment_id: split.deployment_id,
      bundle_id: split.bundle_id,
      entries: split.entries,
      generation: split.generation,
      route: routeOf(env, split.deployment_id),
    },
    revisions: env.revisions.map((r) => ({
      revision_id: r.revision_id,
      deployment_id: r.deployment_id,
      bundle_id: r.bundle_id,
    })),
  });
  return { environment_url: (await routerOf(deployer, hctx))?.url ?? null };
}

/**
 * `op traffic set`: replaces a deployment's split. Every entry must be a `ready` revision of the
 * deployment (`conflict` otherwise); the same idempotency key with the same entries is a no-op.
 * Then the deployer applies it; the store rewrites `runtime-config.json` in the same commit.
 */
export async function trafficSet(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<TrafficSetResult> {
  const parsed = await parseAnswers("traffic set", answers, options);
  const { engine, normalizeTrafficEntries } = await answersEntry();
  // The split records its key as domain state, so an option key must be the one recorded.
  const payload = { ...parsed, idempotency_key: options.idempotencyKey ?? parsed.idempotency_key };
  const envId = payload.environment_id;
  const { environment } = await ctx.store.load(envId);
  const outcome = await mutate(ctx, {
    envId,
    noun: "traffic",
    verb: "set",
    payload,
    options,
    // The reference compares entries ignoring order and unit (percent or bps): fingerprint them normalized.
    request: {
      ...payload,
      idempotency_key: undefined,
      entries: normalizeTrafficEntries(payload.entries).entries.sort((a, b) =>
        a.revision_id.localeCompare(b.revision_id),
      ),
    },
    transform: (current, tx) => engine.setTraffic(required(current, envId), payload, tx),
    // The audit log records the weights asked for (normalized to basis points).
    target: {
      deployment_id: payload.deployment_id,
      entries: normalizeTrafficEntries(payload.entries).entries,
    },
  });
  // Also on a replay: a retry with the same key finishes an apply that failed half-way.
  const applied = await applyToDeployer(ctx, environment, outcome.result.split);
  return { ...withCommit(outcome), ...applied };
}

/** `op traffic rollback`: restores the previous split (one step); its revisions must still be `ready`. */
export async function trafficRollback(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<TrafficRollbackResult> {
  const parsed = await parseAnswers("traffic rollback", answers, options);
  const { engine } = await answersEntry();
  // The restored split is a new change: it names who rolled back, not who wrote it first.
  const payload = { ...parsed, updated_by: parsed.updated_by ?? actorName(ctx) };
  const envId = payload.environment_id;
  const { environment } = await ctx.store.load(envId);
  const { idempotency_key: _key, ...request } = parsed;
  const outcome = await mutate(ctx, {
    envId,
    noun: "traffic",
    verb: "rollback",
    payload,
    options,
    // Fingerprinted as asked: a retry of the same rollback by someone else still replays.
    request,
    transform: (current, tx) => engine.rollbackTraffic(required(current, envId), payload, tx),
  });
  const applied = await applyToDeployer(ctx, environment, outcome.result.restored);
  return { ...withCommit(outcome), ...applied };
}

/** `op traffic show <env> [--deployment <id>]`. */
export async function trafficShow(
  ctx: OperationsContext,
  envId: string,
  filter: { deploymentId?: string | undefined; label?: string | undefined } = {},
): Promise<TrafficShowResult> {
  const id = checkEnvArgument(envId);
  const { environment } = await ctx.store.load(id);
  const deploymentId =
    filter.deploymentId === undefined
      ? undefined
      : resolveDeploymentRef(environment, filter.deploymentId, { label: filter.label }).deployment_id;
  const splits = environment.traffic_splits.filter(
    (s) => deploymentId === undefined || s.deployment_id === deploymentId,
  );
  // Read only: drift is reported, and repaired by the router's supervisor or the next command.
  const drift = environment.packs.some((p) => p.slot === "deployer")
    ? await deployerOf(ctx, environment)
        .then(({ deployer, hctx }) => trafficDrift(environment, deployer, hctx))
        .catch(() => [] as TrafficDrift[])
    : [];
  const router = await environmentRouter(ctx, environment);
  return {
    environment_id: id,
    splits,
    runtime_config: projectRuntimeConfig(environment),
    environment_url: router?.url ?? null,
    ...(drift.length === 0 ? {} : { drift }),
  };
}

/** Who acts, for `updated_by`: the context's actor, else the local OS user. */
function actorName(ctx: OperationsContext): string {
  if (ctx.actor?.user !== undefined) return ctx.actor.user;
  try {
    return userInfo().username;
  } catch {
    return "operator";
  }
}
