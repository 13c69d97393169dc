import { normalizeTrafficEntries, type TrafficRollbackAnswers, type TrafficSetAnswers } from "../answers.js";
import {
  SCHEMA_IDS,
  TrafficSplitSchema,
  type Environment,
  type TrafficEntry,
  type TrafficSplit,
} from "../documents.js";
import { GreenticError } from "../errors.js";
import { issuesError } from "../validation.js";
import { findDeployment } from "./bundles.js";
import {
  checkTarget,
  clone,
  compact,
  decodeStash,
  encodeStash,
  finish,
  notFound,
  type EngineContext,
  type EngineOutput,
} from "./shared.js";

export interface SetTrafficResult {
  split: TrafficSplit;
  /** Null on an idempotent replay and for the first split. */
  previous_generation: number | null;
  /** Null on an idempotent replay. */
  new_generation: number | null;
  /** True when the same key and the same entries were already applied (nothing changed). */
  replayed: boolean;
}

function sameEntries(a: readonly TrafficEntry[], b: readonly TrafficEntry[]): boolean {
  if (a.length !== b.length) return false;
  const key = (e: TrafficEntry) => `${e.revision_id}=${e.weight_bps}`;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((k, i) => k === right[i]);
}

function checkReady(env: Environment, entries: readonly TrafficEntry[], what: string): void {
  const notReady = entries
    .map((e) => env.revisions.find((r) => r.revision_id === e.revision_id)!)
    .filter((r) => r.lifecycle !== "ready")
    .map((r) => ({ revision_id: r.revision_id, lifecycle: r.lifecycle }));
  if (notReady.length > 0) {
    throw new GreenticError(
      "conflict",
      `${what}: ${notReady.map((r) => `revision ${r.revision_id} is ${r.lifecycle}`).join(", ")}; expected one of [ready]`,
      {
        hint: "warm the revisions first with `op revisions warm`",
        details: { code: "revision-not-ready", revisions: notReady },
      },
    );
  }
}

/**
 * `op traffic set`: replaces the deployment's split. Same idempotency key and same entries
 * (in any order) = no-op; same key with other entries = `idempotency-conflict`. Every entry
 * must be a `ready` revision of the deployment. The previous split is stashed; the first
 * split has generation 0.
 */
export function setTraffic(
  env: Environment,
  payload: TrafficSetAnswers,
  ctx: EngineContext,
): EngineOutput<SetTrafficResult> {
  checkTarget(env, payload);
  const { entries, issues } = normalizeTrafficEntries(payload.entries);
  if (issues.length > 0)
    throw issuesError(issues, {
      source: "traffic set",
      hint: "weights are basis points 0..10000 (or percent) summing to exactly 10000",
    });
  const dep = findDeployment(env, payload.deployment_id);
  for (const e of entries) {
    const rev = env.revisions.find((r) => r.revision_id === e.revision_id);
    if (!rev)
      throw notFound(
        `revision ${e.revision_id} in environment ${env.environment_id}`,
        "list revisions with `op revisions list`",
        { revision_id: e.revision_id },
      );
    if (rev.deployment_id !== dep.deployment_id) {
      throw new GreenticError(
        "validation",
        `revision ${e.revision_id} belongs to deployment ${rev.deployment_id}, not ${dep.deployment_id}`,
        {
          hint: "a split only routes between revisions of its own deployment",
          details: { code: "split-revision-wrong-deployment" },
        },
      );
    }
  }
  const index = env.traffic_splits.findIndex((s) => s.deployment_id === dep.deployment_id);
  const previous = index < 0 ? undefined : env.traffic_splits[index]!;
  if (previous !== undefined && previous.idempotency_key === payload.idempotency_key) {
    if (sameEntries(previous.entries, entries)) {
      return finish(clone(env), { split: previous, previous_generation: null, new_generation: null, replayed: true });
    }
    throw new GreenticError(
      "idempotency-conflict",
      `idempotency key ${JSON.stringify(payload.idempotency_key)} was already used for different traffic entries on deployment ${dep.deployment_id}`,
      {
        hint: "use a new idempotency key for a new split",
        details: { idempotency_key: payload.idempotency_key },
      },
    );
  }
  checkReady(env, entries, "traffic can only go to ready revisions");
  const split: TrafficSplit = compact({
    schema: SCHEMA_IDS.trafficSplit,
    env_id: env.environment_id,
    deployment_id: dep.deployment_id,
    bundle_id: dep.bundle_id,
    generation: previous === undefined ? 0 : previous.generation + 1,
    entries,
    updated_at: ctx.now,
    updated_by: payload.updated_by,
    idempotency_key: payload.idempotency_key,
    authorization_ref: payload.authorization_ref,
    previous_split_ref: previous === undefined ? undefined : encodeStash(previous, "previous_split_ref"),
  });
  const next = clone(env);
  if (index < 0) next.traffic_splits.push(split);
  else next.traffic_splits[index] = split;
  return finish(next, {
    split,
    previous_generation: previous?.generation ?? null,
    new_generation: split.generation,
    replayed: false,
  });
}

export interface RollbackTrafficResult {
  restored: TrafficSplit;
  previous_generation: number;
  new_generation: number;
}

/**
 * `op traffic rollback`: restores the stashed split (one step) with `generation + 1` and
 * idempotency key `rollback-<current key>`. Every restored entry must still be `ready`.
 */
export function rollbackTraffic(
  env: Environment,
  payload: TrafficRollbackAnswers,
  ctx: EngineContext,
): EngineOutput<RollbackTrafficResult> {
  checkTarget(env, payload);
  findDeployment(env, payload.deployment_id);
  const index = env.traffic_splits.findIndex((s) => s.deployment_id === payload.deployment_id);
  if (index < 0)
    throw notFound(`a traffic split for deployment ${payload.deployment_id}`, "set one with `op traffic set`", {
      deployment_id: payload.deployment_id,
    });
  const current = env.traffic_splits[index]!;
  if (current.previous_split_ref === undefined) {
    throw new GreenticError(
      "conflict",
      `deployment ${payload.deployment_id} has no previous traffic split to roll back to`,
      {
        hint: "rollback goes back one step only; use `op traffic set` to choose weights",
        details: { code: "no-previous-snapshot" },
      },
    );
  }
  const stashed = decodeStash(
    current.previous_split_ref,
    TrafficSplitSchema,
    `traffic split of deployment ${payload.deployment_id}`,
  );
  for (const e of stashed.entries) {
    if (!env.revisions.some((r) => r.revision_id === e.revision_id)) {
      throw new GreenticError(
        "conflict",
        `the previous split routes to revision ${e.revision_id}, which no longer exists`,
        { hint: "use `op traffic set` instead", details: { code: "revision-not-ready" } },
      );
    }
  }
  checkReady(env, stashed.entries, "cannot restore the previous split");
  const restored: TrafficSplit = {
    ...stashed,
    generation: current.generation + 1,
    updated_at: ctx.now,
    updated_by: payload.updated_by ?? stashed.updated_by,
    idempotency_key: `rollback-${current.idempotency_key}`,
  };
  delete restored.previous_split_ref;
  const next = clone(env);
  next.traffic_splits[index] = restored;
  return finish(next, { restored, previous_generation: current.generation, new_generation: restored.generation });
}
