import { SCHEMA_IDS, type Environment, type RuntimeConfig } from "../documents.js";
import { GreenticError } from "../errors.js";

/**
 * The runtime's view of the traffic splits: one block per split entry, in order, not
 * filtered by lifecycle (that would break the 10000 sum). Null when there is no split, since
 * the runtime rejects an empty list (the store then deletes `runtime-config.json`).
 */
export function projectRuntimeConfig(env: Environment): RuntimeConfig | null {
  if (env.traffic_splits.length === 0) return null;
  const revisions = new Map(env.revisions.map((r) => [r.revision_id, r]));
  return {
    schema: SCHEMA_IDS.runtimeConfig,
    env_id: env.environment_id,
    revisions: env.traffic_splits.flatMap((split) =>
      split.entries.map((entry) => {
        const rev = revisions.get(entry.revision_id);
        if (!rev)
          throw new GreenticError(
            "validation",
            `traffic split of deployment ${split.deployment_id} references revision ${entry.revision_id}, which does not exist`,
            { hint: "validate the environment" },
          );
        return {
          deployment_id: split.deployment_id,
          revision_id: entry.revision_id,
          bundle_id: split.bundle_id,
          pack_list_refs: [rev.pack_list_lock_ref],
          pack_config_refs: [...rev.pack_config_refs],
          weight_bps: entry.weight_bps,
        };
      }),
    ),
  };
}
