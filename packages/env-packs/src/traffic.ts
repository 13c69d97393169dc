import { GreenticError } from "@greentic/deploy-spec/documents";
import type { AppliedRuntimeConfig, ApplyTrafficSplitRequest, RevisionRef } from "./types.js";

const TOTAL_BPS = 10_000;

/**
 * Checks a split before a deployer applies it. Throws `validation` for weights (each an
 * integer in 0..10 000, sum exactly 10 000), an empty or duplicate entry list, or a revision
 * of another deployment; `not-found` for a revision absent from `revisions`.
 */
export function checkTrafficSplit(request: ApplyTrafficSplitRequest): RevisionRef[] {
  const { split, revisions } = request;
  const invalid = (message: string, path: string, details: Record<string, unknown> = {}): never => {
    throw new GreenticError("validation", message, {
      path,
      hint: "give every entry an integer weight_bps in 0..10000, with weights summing to exactly 10000",
      details: { code: "invalid-split", deployment_id: split?.deployment_id, ...details },
    });
  };
  if (typeof split?.deployment_id !== "string" || split.deployment_id === "")
    invalid("traffic split has no deployment_id", "deployment_id");
  if (!Array.isArray(split.entries) || split.entries.length === 0)
    invalid(`traffic split for deployment ${split.deployment_id} has no entries`, "entries");
  const seen = new Set<string>();
  let sum = 0;
  split.entries.forEach((entry, index) => {
    const weight = entry.weight_bps;
    if (!Number.isInteger(weight) || weight < 0 || weight > TOTAL_BPS) {
      invalid(
        `entries.${index}.weight_bps is ${JSON.stringify(weight)}; it must be an integer in 0..10000`,
        `entries.${index}.weight_bps`,
        { value: weight },
      );
    }
    if (seen.has(entry.revision_id))
      invalid(`entries.${index}.revision_id ${entry.revision_id} appears twice`, `entries.${index}.revision_id`);
    seen.add(entry.revision_id);
    sum += weight;
  });
  if (sum !== TOTAL_BPS)
    invalid(`traffic split for deployment ${split.deployment_id} sums to ${sum} basis points, not 10000`, "entries", {
      sum,
    });
  return split.entries.map((entry, index) => {
    const revision = revisions.find((candidate) => candidate.revision_id === entry.revision_id);
    if (revision === undefined) {
      throw new GreenticError(
        "not-found",
        `entries.${index}.revision_id ${entry.revision_id} is not a known revision`,
        {
          path: `entries.${index}.revision_id`,
          hint: "stage the revision first, or fix the revision id",
          details: { code: "unknown-revision", revision_id: entry.revision_id },
        },
      );
    }
    if (revision.deployment_id !== split.deployment_id || revision.bundle_id !== split.bundle_id) {
      invalid(
        `entries.${index}.revision_id ${entry.revision_id} belongs to deployment ${revision.deployment_id} (bundle ${revision.bundle_id}), not ${split.deployment_id} (bundle ${split.bundle_id})`,
        `entries.${index}.revision_id`,
      );
    }
    return revision;
  });
}

/** Flattens per-deployment splits into an `AppliedRuntimeConfig`, deployments sorted by id. */
export function toAppliedRuntimeConfig(
  envId: string,
  splits: Record<string, { bundle_id: string; entries: readonly { revision_id: string; weight_bps: number }[] }>,
): AppliedRuntimeConfig {
  return {
    env_id: envId,
    revisions: Object.keys(splits)
      .sort()
      .flatMap((deploymentId) =>
        splits[deploymentId]!.entries.map((entry) => ({
          deployment_id: deploymentId,
          bundle_id: splits[deploymentId]!.bundle_id,
          revision_id: entry.revision_id,
          weight_bps: entry.weight_bps,
        })),
      ),
  };
}
