import { SCHEMA_IDS, type Environment, type RuntimeConfig } from "../documents.js";

/**
 * The runtime's view of the traffic splits (the reference's `materialize_runtime_config`): one
 * block per split entry, in order, not filtered by lifecycle (that would break the 10000 sum).
 * Each block names its revision's `pack_list_lock_ref` when that is not empty, and its
 * `pack_config_refs`; an entry whose revision is missing names neither. Null when there is no
 * split, since the runtime rejects an empty list (the store then deletes `runtime-config.json`).
 */
export function projectRuntimeConfig(env: Environment): RuntimeConfig | null {
  if (env.traffic_splits.length === 0) return null;
  return {
    schema: SCHEMA_IDS.runtimeConfig,
    env_id: env.environment_id,
    revisions: env.traffic_splits.flatMap((split) =>
      split.entries.map((entry) => {
        const rev = env.revisions.find(
          (r) => r.revision_id === entry.revision_id && r.deployment_id === split.deployment_id,
        );
        return {
          deployment_id: split.deployment_id,
          revision_id: entry.revision_id,
          bundle_id: split.bundle_id,
          pack_list_refs: rev !== undefined && rev.pack_list_lock_ref !== "" ? [rev.pack_list_lock_ref] : [],
          pack_config_refs: rev === undefined ? [] : [...rev.pack_config_refs],
          weight_bps: entry.weight_bps,
        };
      }),
    ),
  };
}
