import type { BundleDeployment, Environment } from "@greentic/deploy-spec";
import { compareRouteScores, newRouteCollisions, normalisePathPrefix, routeScore } from "@greentic/deploy-spec/routes";

// What the environment URL does with a request, judged from the stored route bindings of the
// deployments that have traffic, by the router's own rules (deploy-spec's routes). Used by
// `op status`/`op env doctor` (problems and notes) and `op deploy` (the URL it prints).

type Served = Pick<BundleDeployment, "deployment_id" | "bundle_id" | "route_binding">;

/** The deployments whose bindings claim `host` + `path` most specifically (several: a 421). */
function winners(served: readonly Served[], host: string, path: string): Served[] {
  let best: readonly number[] | undefined;
  let out: Served[] = [];
  for (const d of served) {
    const score = routeScore(
      {
        hosts: d.route_binding.hosts.map((h) => h.toLowerCase()),
        prefixes: d.route_binding.path_prefixes.map(normalisePathPrefix),
      },
      host,
      path,
    );
    if (score === undefined) continue;
    const order = best === undefined ? 1 : compareRouteScores(score, best);
    if (order > 0) [best, out] = [score, [d]];
    else if (order === 0) out.push(d);
  }
  return out;
}

/** The deployments of `env` with weight in their split. */
export function servedDeployments(env: Environment): Served[] {
  return env.traffic_splits
    .filter((s) => s.entries.some((e) => e.weight_bps > 0))
    .map((s) => env.bundles.find((b) => b.deployment_id === s.deployment_id))
    .filter((b) => b !== undefined);
}

/**
 * A request `deployment` is bound to serve, to send to the environment URL: its first bound
 * host (a `*.` wildcard made concrete with `www`) and first path prefix; `null` host when it
 * binds none (the URL's own host does).
 */
export function boundRequest(deployment: Served): { host: string | null; path: string } {
  const host = deployment.route_binding.hosts[0];
  const prefix = deployment.route_binding.path_prefixes[0];
  return {
    host: host === undefined ? null : host.startsWith("*.") ? `www${host.slice(1)}` : host,
    path: prefix === undefined ? "/" : `${normalisePathPrefix(prefix).replace(/\/$/u, "")}/`,
  };
}

/** `curl` of the environment URL as `deployment` is bound to be reached. */
export function boundCurl(url: string, deployment: Served): string {
  const { host, path } = boundRequest(deployment);
  const target = new URL(path.slice(1), url).toString();
  return host === null ? `curl ${target}` : `curl -H 'Host: ${host}' ${target}`;
}

/**
 * Problems: deployments with traffic whose bindings claim the same host and path prefix (the
 * URL answers 421 to those requests), found by the rule the store refuses them with when they
 * are written; only a store another writer left that way holds one. Notes: the bare
 * environment URL (its own host, path `/`) claimed by no served deployment answers 404 by
 * design; the note says which host or path reaches what.
 */
export function urlRouting(env: Environment, url: string | null): { problems: string[]; notes: string[] } {
  const served = servedDeployments(env);
  const problems: string[] = [];
  const notes: string[] = [];
  if (served.length === 0) return { problems, notes };
  const named = (id: string) => `${id} (bundle ${env.bundles.find((b) => b.deployment_id === id)?.bundle_id})`;
  for (const c of newRouteCollisions(undefined, env)) {
    const [first, second] = [c.deployment_id, c.other_deployment_id].sort() as [string, string];
    problems.push(
      `Deployments ${named(first)} and ${named(second)} claim the same requests (${c.host === null ? "any host" : `host ${c.host}`}, path ${c.path_prefix}): the environment URL answers 421 to them. Give one a route binding with \`op bundles update\`.`,
    );
  }
  const urlHost = url === null ? "localhost" : new URL(url).host;
  if (url !== null && problems.length === 0 && winners(served, urlHost, "/").length === 0)
    notes.push(
      `The environment URL ${url} answers 404 to a request with its own host for /: no deployment's route binding claims it. ${served
        .map((d) => `Deployment ${d.deployment_id} (bundle ${d.bundle_id}) is reached with: ${boundCurl(url, d)}`)
        .join("; ")}.`,
    );
  return { problems, notes };
}
