import { canonicalDigest } from "../canonical.js";
import { SCHEMA_IDS, type Environment, type PackListEntry, type Revision } from "../documents.js";
import { GreenticError } from "../errors.js";
import { checkTransition, type LifecycleState } from "../lifecycle.js";
import { isUlid } from "../ids.js";
import { findDeployment } from "./bundles.js";
import { checkTarget, clone, compact, finish, notFound, type EngineContext, type EngineOutput } from "./shared.js";

/** Drain period recorded when the caller gives none (the reference's `default_drain_seconds()`). */
export const DEFAULT_DRAIN_SECONDS = 30;

/** What `stage` records; the staging backend computes digests and pack lists before calling it. */
export interface StageRevisionInput {
  environment_id?: string | undefined;
  deployment_id: string;
  /** Caller-chosen id (a retry then replays); minted with `ctx.newId()` when absent. */
  revision_id?: string | undefined;
  /** `sha256:<hex>` of the staged bundle copy. */
  bundle_digest: string;
  bundle_source_uri?: string | undefined;
  pack_list?: PackListEntry[] | undefined;
  /**
   * The `pack-list.lock` the backend wrote for this revision, relative to the environment
   * directory. Default `""`: no lock written, so none is named (the reference records an
   * empty path in the same case, and its runtime-config projection then names no lock).
   */
  pack_list_lock_ref?: string | undefined;
  pack_config_refs?: string[] | undefined;
  /** Default `sha256:` + canonical digest of `pack_config_refs`. */
  config_digest?: string | undefined;
  /** The signature sidecar the backend wrote. Default `""`: no sidecar, so none is named. */
  signature_sidecar_ref?: string | undefined;
  /** Default 30, the reference's `default_drain_seconds()`. */
  drain_seconds?: number | undefined;
}

export interface RevisionResult {
  revision: Revision;
  /** States walked through, starting with the state before the verb. */
  path: LifecycleState[];
}

function findRevision(env: Environment, revisionId: string): number {
  const i = env.revisions.findIndex((r) => r.revision_id === revisionId);
  if (i < 0)
    throw notFound(
      `revision ${revisionId} in environment ${env.environment_id}`,
      "list revisions with `op revisions list`",
      { revision_id: revisionId },
    );
  return i;
}

/** Applies a chain of transitions, each checked against the matrix. */
function walk(
  revision: Revision,
  chain: readonly LifecycleState[],
  now: string,
): { revision: Revision; path: LifecycleState[] } {
  const path: LifecycleState[] = [revision.lifecycle];
  let cur = revision;
  for (const to of chain) {
    const error = checkTransition(cur.lifecycle, to, cur.revision_id);
    if (error) throw error;
    cur = { ...cur, lifecycle: to };
    if (to === "ready") cur.warmed_at = now;
    path.push(to);
  }
  return { revision: cur, path };
}

function wrongState(rev: Revision, expected: readonly LifecycleState[], verb: string, hint?: string): GreenticError {
  return new GreenticError(
    "conflict",
    `revision ${rev.revision_id} is ${rev.lifecycle}; ${verb} expects one of [${expected.join(", ")}]`,
    {
      hint: hint ?? `see the revision's state with \`op revisions list ${rev.env_id}\``,
      details: {
        code: "invalid-lifecycle-transition",
        revision_id: rev.revision_id,
        lifecycle: rev.lifecycle,
        expected,
      },
    },
  );
}

/** `op revisions stage`: a new revision in `staged`, `sequence = max + 1` within its deployment. */
export function stageRevision(
  env: Environment,
  input: StageRevisionInput,
  ctx: EngineContext,
): EngineOutput<RevisionResult> {
  checkTarget(env, input);
  const dep = findDeployment(env, input.deployment_id);
  if (dep.status === "archived") {
    throw new GreenticError("conflict", `deployment ${dep.deployment_id} is archived; nothing can be staged on it`, {
      hint: "set its status back to active with `op bundles update`",
    });
  }
  const revisionId = input.revision_id ?? ctx.newId();
  if (!isUlid(revisionId))
    throw new GreenticError("validation", `revision_id ${JSON.stringify(revisionId)} is not a ULID`, {
      path: "revision_id",
    });
  if (env.revisions.some((r) => r.revision_id === revisionId)) {
    throw new GreenticError("conflict", `revision ${revisionId} already exists`, {
      hint: "stage with a new revision id",
      details: { code: "already-exists", revision_id: revisionId },
    });
  }
  const sequence =
    env.revisions
      .filter((r) => r.deployment_id === dep.deployment_id)
      .reduce((max, r) => Math.max(max, r.sequence), 0) + 1;
  const packConfigRefs = input.pack_config_refs ?? [];
  const revision: Revision = compact({
    schema: SCHEMA_IDS.revision,
    revision_id: revisionId,
    env_id: env.environment_id,
    bundle_id: dep.bundle_id,
    deployment_id: dep.deployment_id,
    sequence,
    created_at: ctx.now,
    bundle_digest: input.bundle_digest,
    bundle_source_uri: input.bundle_source_uri,
    pack_list: input.pack_list ?? [],
    pack_list_lock_ref: input.pack_list_lock_ref ?? "",
    pack_config_refs: packConfigRefs,
    config_digest: input.config_digest ?? `sha256:${canonicalDigest(packConfigRefs)}`,
    signature_sidecar_ref: input.signature_sidecar_ref ?? "",
    lifecycle: "staged" as const,
    staged_at: ctx.now,
    drain_seconds: input.drain_seconds ?? DEFAULT_DRAIN_SECONDS,
    abort_metrics: [],
  });
  const next = clone(env);
  next.revisions.push(revision);
  next.bundles.find((b) => b.deployment_id === dep.deployment_id)!.current_revisions.push(revisionId);
  return finish(next, { revision, path: ["inactive", "staged"] });
}

/** Names of the checks a warm health gate runs. */
export const HEALTH_GATE_CHECKS = ["route-table", "runtime-config", "signature-status", "provider-health"] as const;

/** The outcome of a health gate, evaluated by the caller and passed in as data. */
export type HealthGateOutcome = { ok: true } | { ok: false; failure: { failed_checks: string[]; message: string } };

export interface WarmRevisionInput {
  environment_id?: string | undefined;
  revision_id: string;
  /** When given, the revision must still be in this state (a stale gate is refused). */
  expected_lifecycle?: LifecycleState | undefined;
  health_gate: HealthGateOutcome;
}

export interface WarmRevisionResult extends RevisionResult {
  outcome: "warmed" | "already-ready" | "health-gate-failed";
}

/**
 * `op revisions warm`: staged -> warming -> ready when the gate passed. A revision already
 * `ready` is an idempotent success (`warmed_at` stamped again). A failed gate moves the
 * revision to `failed` and returns it together with an `error`: committed-on-error.
 */
export function warmRevision(
  env: Environment,
  input: WarmRevisionInput,
  ctx: EngineContext,
): EngineOutput<WarmRevisionResult> {
  checkTarget(env, input);
  const i = findRevision(env, input.revision_id);
  const current = env.revisions[i]!;
  if (input.expected_lifecycle !== undefined && input.expected_lifecycle !== current.lifecycle) {
    throw new GreenticError(
      "conflict",
      `revision ${current.revision_id} is ${current.lifecycle}, not ${input.expected_lifecycle} as the health gate expected`,
      {
        hint: "the revision changed since the gate ran; run warm again",
        details: { code: "stale-health-gate", expected: input.expected_lifecycle, actual: current.lifecycle },
      },
    );
  }
  const next = clone(env);
  if (current.lifecycle === "ready") {
    const revision = { ...current, warmed_at: ctx.now };
    next.revisions[i] = revision;
    return finish(next, { revision, path: ["ready"], outcome: "already-ready" });
  }
  if (current.lifecycle !== "staged" && current.lifecycle !== "warming")
    throw wrongState(current, ["staged", "warming", "ready"], "warm");
  const gate = input.health_gate;
  if (gate.ok) {
    const chain: LifecycleState[] = current.lifecycle === "staged" ? ["warming", "ready"] : ["ready"];
    const { revision, path } = walk(current, chain, ctx.now);
    next.revisions[i] = revision;
    return finish(next, { revision, path, outcome: "warmed" });
  }
  const { revision, path } = walk(current, ["failed"], ctx.now);
  next.revisions[i] = revision;
  const error = new GreenticError(
    "conflict",
    `health gate failed for revision ${current.revision_id}: ${gate.failure.message}`,
    {
      hint: `fix the failing checks (${gate.failure.failed_checks.join(", ") || "none named"}) and stage a new revision`,
      details: {
        code: "health-gate-failed",
        revision_id: current.revision_id,
        failed_checks: gate.failure.failed_checks,
      },
    },
  );
  return finish(next, { revision, path, outcome: "health-gate-failed" }, error);
}

export interface RevisionTargetInput {
  environment_id?: string | undefined;
  revision_id: string;
}

/** `op revisions drain`: ready -> draining. There is no traffic guard (as in the reference). */
export function drainRevision(
  env: Environment,
  input: RevisionTargetInput,
  ctx: EngineContext,
): EngineOutput<RevisionResult> {
  checkTarget(env, input);
  const i = findRevision(env, input.revision_id);
  const current = env.revisions[i]!;
  // The reference's matrix has no failed → draining: a failed revision (a failed warm, or a
  // rollout's candidate after a breach) carries no traffic and leaves by archive instead.
  if (current.lifecycle === "failed")
    throw wrongState(
      current,
      ["ready"],
      "drain",
      `a failed revision is not drained: archive it (\`op revisions archive ${current.env_id} ${current.revision_id}\`), which stops it and removes its files`,
    );
  if (current.lifecycle !== "ready") throw wrongState(current, ["ready"], "drain");
  const { revision, path } = walk(current, ["draining"], ctx.now);
  const next = clone(env);
  next.revisions[i] = revision;
  return finish(next, { revision, path });
}

/**
 * `op revisions archive`: refused while any traffic split references the revision (the error
 * lists them). `draining` walks through `inactive`. The revision leaves `current_revisions`.
 */
export function archiveRevision(
  env: Environment,
  input: RevisionTargetInput,
  ctx: EngineContext,
): EngineOutput<RevisionResult> {
  checkTarget(env, input);
  const i = findRevision(env, input.revision_id);
  const current = env.revisions[i]!;
  const references = env.traffic_splits.flatMap((s) =>
    s.entries
      .filter((e) => e.revision_id === current.revision_id)
      .map((e) => ({ deployment_id: s.deployment_id, bundle_id: s.bundle_id, weight_bps: e.weight_bps })),
  );
  if (references.length > 0) {
    const list = references
      .map((r) => `deployment ${r.deployment_id} (bundle ${r.bundle_id}) at ${r.weight_bps} bps`)
      .join(", ");
    throw new GreenticError("conflict", `revision ${current.revision_id} still receives traffic: ${list}`, {
      hint: "rebalance via `op traffic set` so that no split references it, then archive",
      details: { code: "active-traffic-reference", revision_id: current.revision_id, references },
    });
  }
  if (current.lifecycle === "archived")
    throw wrongState(current, ["inactive", "staged", "warming", "ready", "draining", "failed"], "archive");
  const chain: LifecycleState[] = current.lifecycle === "draining" ? ["inactive", "archived"] : ["archived"];
  const { revision, path } = walk(current, chain, ctx.now);
  const next = clone(env);
  next.revisions[i] = revision;
  const dep = next.bundles.find((b) => b.deployment_id === revision.deployment_id);
  if (dep) dep.current_revisions = dep.current_revisions.filter((r) => r !== revision.revision_id);
  return finish(next, { revision, path });
}

export interface TagRevisionInput {
  environment_id?: string | undefined;
  revision_id: string;
  tag: string;
  /** When given, the revision must belong to this deployment (`invalid-argument` otherwise). */
  deployment_id?: string | undefined;
  /** Take the tag from the revision of the same deployment holding it (else that is a `conflict`). */
  move?: boolean | undefined;
}

export interface TagRevisionResult {
  revision: Revision;
  tag: string;
  /** `tagged`, `unchanged` (the revision already had it), `moved` (from `moved_from`) or `untagged`. */
  outcome: "tagged" | "unchanged" | "moved" | "untagged";
  moved_from?: string;
}

/** Sets `tags` on a copy, leaving the field out when it is empty (the reference's documents have none). */
function withTags(revision: Revision, tags: readonly string[]): Revision {
  const { tags: _old, ...rest } = revision;
  return tags.length === 0 ? (rest as Revision) : { ...rest, tags: [...tags] };
}

/**
 * `op revisions tag`: gives a revision a tag, unique within its deployment. A tag another
 * revision of the deployment holds is a `conflict` naming it, unless `move` takes it over.
 */
export function tagRevision(
  env: Environment,
  input: TagRevisionInput,
  _ctx: EngineContext,
): EngineOutput<TagRevisionResult> {
  checkTarget(env, input);
  const i = findRevision(env, input.revision_id);
  const current = env.revisions[i]!;
  if (input.deployment_id !== undefined && input.deployment_id !== current.deployment_id)
    throw new GreenticError(
      "invalid-argument",
      `revision ${current.revision_id} belongs to deployment ${current.deployment_id}, not ${input.deployment_id}`,
      { path: "deployment_id", hint: "name a revision of that deployment, or leave the deployment out" },
    );
  const tag = input.tag;
  if ((current.tags ?? []).includes(tag)) return finish(env, { revision: current, tag, outcome: "unchanged" });
  const holderIndex = env.revisions.findIndex(
    (r) => r.deployment_id === current.deployment_id && (r.tags ?? []).includes(tag),
  );
  const next = clone(env);
  let movedFrom: string | undefined;
  if (holderIndex >= 0) {
    const holder = env.revisions[holderIndex]!;
    if (input.move !== true) {
      throw new GreenticError(
        "conflict",
        `revision ${holder.revision_id} (@${holder.sequence}) of deployment ${holder.deployment_id} is already tagged ${JSON.stringify(tag)}`,
        {
          path: "tag",
          hint: "take it over (--move), or choose another name",
          details: { code: "tag-taken", tag, revision_id: holder.revision_id },
        },
      );
    }
    next.revisions[holderIndex] = withTags(
      holder,
      (holder.tags ?? []).filter((t) => t !== tag),
    );
    movedFrom = holder.revision_id;
  }
  const revision = withTags(current, [...(current.tags ?? []), tag]);
  next.revisions[i] = revision;
  return finish(
    next,
    movedFrom === undefined
      ? { revision, tag, outcome: "tagged" }
      : { revision, tag, outcome: "moved", moved_from: movedFrom },
  );
}

export interface UntagRevisionInput {
  environment_id?: string | undefined;
  revision_id: string;
  tag: string;
}

/** `op revisions untag`: removes a tag from the revision holding it (`not-found` when it does not). */
export function untagRevision(
  env: Environment,
  input: UntagRevisionInput,
  _ctx: EngineContext,
): EngineOutput<TagRevisionResult> {
  checkTarget(env, input);
  const i = findRevision(env, input.revision_id);
  const current = env.revisions[i]!;
  if (!(current.tags ?? []).includes(input.tag)) {
    throw new GreenticError("not-found", `revision ${current.revision_id} is not tagged ${JSON.stringify(input.tag)}`, {
      path: "tag",
      hint: "list tags with `op revisions list`",
      details: { tag: input.tag, revision_id: current.revision_id },
    });
  }
  const revision = withTags(
    current,
    (current.tags ?? []).filter((t) => t !== input.tag),
  );
  const next = clone(env);
  next.revisions[i] = revision;
  return finish(next, { revision, tag: input.tag, outcome: "untagged" });
}
