import type { EnvShowResult } from "@greentic/operations";
import type { EnvListEntry } from "@greentic/operations";
import { type ListColumn, fields, percent, table } from "./render.js";

// Human renderings of `op env show` and `op env list`: no library imports at run time.

/** `op env show` in human form. */
export function envShowText(shown: Pick<EnvShowResult, "environment" | "etag" | "generation" | "router">): string {
  const env = shown.environment;
  const host = env.host_config as Record<string, unknown>;
  // The environment's URL is where its router listens. host_config.listen_addr is kept in the
  // document for the reference but nothing listens there, so it is not shown (see --json).
  const router = shown.router;
  const url =
    router === null || router === undefined
      ? undefined
      : router.url !== null
        ? router.url
        : router.state === "failed"
          ? `none: the router (pid ${router.pid ?? "?"}) is down`
          : "none yet: the router starts with the first traffic split";
  let out = fields([
    ["environment", env.environment_id],
    ["name", env.name],
    ["generation", shown.generation],
    ["etag", shown.etag],
    ["url", url],
    ["public_base_url", host.public_base_url],
    ["packs", env.packs.map((p) => `${p.slot}=${p.kind}`).join(" ")],
    ["bundles", env.bundles.length],
    ["revisions", env.revisions.length],
    ["health", env.health.state],
  ]);
  for (const split of env.traffic_splits) {
    out += `traffic ${split.bundle_id} (${split.deployment_id}): ${split.entries.map((e) => `${e.revision_id}=${percent(e.weight_bps)}`).join(" ")}\n`;
  }
  return out;
}

/** The columns of `op env list`. */
export const ENV_LIST_COLUMNS: readonly ListColumn<EnvListEntry>[] = [
  { key: "id", header: "id", get: (e) => e.environment_id },
  { key: "name", header: "name", get: (e) => e.name },
  { key: "generation", header: "generation", get: (e) => e.generation, right: true },
  { key: "status", header: "status", get: (e) => (e.status === "ok" ? "ok" : `${e.status}: ${e.problem ?? ""}`) },
  {
    key: "health",
    header: "health",
    get: (e) =>
      e.health === "unhealthy" ? `unhealthy: ${(e.problems ?? []).length} problem(s)` : (e.health ?? "unknown"),
  },
];

/** What `op env list` prints for an empty store. */
export const ENV_LIST_EMPTY = "No environments yet. Create the local one with: op env init";

/** `op env list` in human form. */
export function envListText(environments: readonly EnvListEntry[]): string {
  return table(environments, ENV_LIST_COLUMNS, ENV_LIST_EMPTY);
}
