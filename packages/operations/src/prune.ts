import { GreenticError, type Environment, type Revision } from "@greentic/deploy-spec/documents";
import { parseAnswers, progress, type OperationsContext } from "./context.js";
import { deployerOf } from "./lookups.js";
import { revisionsArchive, revisionsDrain, trafficReferences } from "./revisions.js";
import type { MutationOptions } from "./types.js";

/** Revisions kept per deployment when neither `keep` nor the environment's retention policy says. */
export const DEFAULT_KEEP_REVISIONS = 3;

/** One revision `op revisions prune` archived. */
export interface PrunedRevision {
  revision_id: string;
  deployment_id: string;
  /** Its lifecycle before the prune. */
  from: Revision["lifecycle"];
}

/** One revision kept although it is beyond `keep`, and why. */
export interface KeptRevision {
  revision_id: string;
  deployment_id: string;
  reason: "traffic" | "rollback-stash" | "in-progress";
}

/** `op revisions prune` result. */
export interface PruneResult {
  environment_id: string;
  keep: number;
  pruned: PrunedRevision[];
  /** Old revisions that were not pruned: they carry traffic, are the rollback target, or are warming. */
  protected: KeptRevision[];
}

/** The revision ids of a split's one-step rollback stash (`inline://` + base64url JSON); none when unreadable. */
function stashedRevisions(ref: string | undefined): string[] {
  if (ref === undefined || !ref.startsWith("inline://")) return [];
  try {
    const split = JSON.parse(Buffer.from(ref.slice("inline://".length), "base64url").toString("utf8")) as {
      entries?: { revision_id?: unknown }[];
    };
    return (split.entries ?? []).flatMap((e) => (typeof e.revision_id === "string" ? [e.revision_id] : []));
  } catch {
    return [];
  }
}

/** The revisions a prune of `env` would archive (newest `keep` of each deployment stay), and those it must spare. */
export function pruneCandidates(
  env: Environment,
  keep: number,
  deploymentId?: string,
): { candidates: Revision[]; spared: KeptRevision[] } {
  const candidates: Revision[] = [];
  const spared: KeptRevision[] = [];
  for (const deployment of env.bundles) {
    if (deploymentId !== undefined && deployment.deployment_id !== deploymentId) continue;
    const split = env.traffic_splits.find((s) => s.deployment_id === deployment.deployment_id);
    const routed = new Set(split?.entries.map((e) => e.revision_id) ?? []);
    const stashed = new Set(stashedRevisions(split?.previous_split_ref));
    const live = env.revisions
      .filter((r) => r.deployment_id === deployment.deployment_id && r.lifecycle !== "archived")
      .sort((a, b) => b.sequence - a.sequence);
    for (const revision of live.slice(keep)) {
      const id = { revision_id: revision.revision_id, deployment_id: deployment.deployment_id };
      if (routed.has(revision.revision_id)) spared.push({ ...id, reason: "traffic" });
      else if (stashed.has(revision.revision_id)) spared.push({ ...id, reason: "rollback-stash" });
      else if (revision.lifecycle === "warming") spared.push({ ...id, reason: "in-progress" });
      else candidates.push(revision);
    }
  }
  return { candidates, spared };
}

/**
 * `op revisions prune`: for each deployment (or the one named), keeps the newest `keep`
 * revisions that are not archived (default: the environment's `retention.keep_revisions`, else
 * {@link DEFAULT_KEEP_REVISIONS}) and archives the older ones, draining ready ones first, so
 * their processes stop and their staged files go. Never touches a revision that a split (stored
 * or applied by the deployer) routes to, the one the split's rollback stash names, or one
 * being warmed. Each archive is its own audited commit; with an idempotency key a retry
 * finishes an interrupted prune.
 */
export async function revisionsPrune(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<PruneResult> {
  const payload = await parseAnswers("revisions prune", answers, options);
  const envId = payload.environment_id;
  const { environment } = await ctx.store.load(envId);
  if (
    payload.deployment_id !== undefined &&
    !environment.bundles.some((b) => b.deployment_id === payload.deployment_id)
  ) {
    throw new GreenticError("not-found", `deployment ${payload.deployment_id} does not exist in environment ${envId}`, {
      hint: "list deployments with `op bundles list`",
      details: { deployment_id: payload.deployment_id },
    });
  }
  const keep = payload.keep ?? environment.retention.keep_revisions ?? DEFAULT_KEEP_REVISIONS;
  if (keep < 1) {
    throw new GreenticError("validation", `retention.keep_revisions of environment ${envId} is ${keep}; at least 1`, {
      path: "retention.keep_revisions",
      hint: "pass --keep N (1 or more)",
    });
  }
  const { candidates, spared } = pruneCandidates(environment, keep, payload.deployment_id);
  const key = options.idempotencyKey ?? payload.idempotency_key;
  const stepOptions = (step: string, revisionId: string): MutationOptions =>
    key === undefined ? {} : { idempotencyKey: `${key}:${step}:${revisionId}` };
  const { deployer, hctx } =
    candidates.length > 0 ? await deployerOf(ctx, environment) : { deployer: undefined, hctx: undefined };
  const pruned: PrunedRevision[] = [];
  const kept = [...spared];
  for (const revision of candidates) {
    const id = { revision_id: revision.revision_id, deployment_id: revision.deployment_id };
    // The router may still route to it after a crash between a store commit and its update.
    if (deployer !== undefined && hctx !== undefined) {
      const live = await trafficReferences(environment, revision.revision_id, deployer, hctx);
      if (live.length > 0) {
        kept.push({ ...id, reason: "traffic" });
        continue;
      }
    }
    progress(ctx, "revisions.prune", `pruning revision ${revision.revision_id} (${revision.lifecycle})`, id);
    const target = { environment_id: envId, revision_id: revision.revision_id };
    if (revision.lifecycle === "ready") await revisionsDrain(ctx, target, stepOptions("drain", revision.revision_id));
    await revisionsArchive(ctx, target, stepOptions("archive", revision.revision_id));
    pruned.push({ ...id, from: revision.lifecycle });
  }
  return { environment_id: envId, keep, pruned, protected: kept };
}
