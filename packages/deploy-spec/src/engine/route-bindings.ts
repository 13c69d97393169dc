import type { BundleDeployment } from "../documents.js";
import { GreenticError } from "../errors.js";

/**
 * A route key: one host (lower case; `*` for any host) with one path prefix (no trailing `/`
 * except the root). A binding claims every host × prefix pair it lists; empty lists mean any
 * host and `/`. Two deployments claiming the same pair cannot be told apart by the router, so
 * that is refused when the binding is written rather than answered 421 per request.
 */
export function routeKeys(binding: { hosts: readonly string[]; path_prefixes: readonly string[] }): string[] {
  const hosts = binding.hosts.length === 0 ? ["*"] : binding.hosts.map((h) => h.toLowerCase());
  const prefixes = binding.path_prefixes.length === 0 ? ["/"] : binding.path_prefixes.map(normalisePathPrefix);
  return [...new Set(hosts.flatMap((host) => prefixes.map((prefix) => `${host} ${prefix}`)))];
}

/** `/shop/` and `/shop` route alike: the trailing slash is dropped (the root stays `/`). */
export function normalisePathPrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/u, "");
  return trimmed === "" ? "/" : trimmed;
}

/** True when the binding names no host and no path prefix: it takes whatever no other binding claims. */
export function isUnbound(binding: { hosts: readonly string[]; path_prefixes: readonly string[] }): boolean {
  return binding.hosts.length === 0 && binding.path_prefixes.length === 0;
}

/**
 * How specifically a binding claims a request: `[host rank, host length, prefix length]`,
 * compared in that order. Host rank 2 is an exact host, 1 a `*.` wildcard (length: the suffix
 * from its dot), 0 any host; then the longest path prefix wins (the root counts 0).
 */
export type RouteScore = [number, number, number];

/** Orders two scores: positive when `a` is more specific. */
export function compareRouteScores(a: readonly number[], b: readonly number[]): number {
  return a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
}

/**
 * How specifically `matcher` (lower-case hosts, prefixes without a trailing `/`; empty lists:
 * any) claims a request for `hostHeader` and `path`, or `undefined` when it does not claim it.
 * A bound host with a port is compared with the whole Host header, one without a port with the
 * header's name only.
 */
export function routeScore(
  matcher: { hosts: readonly string[]; prefixes: readonly string[] },
  hostHeader: string,
  path: string,
): RouteScore | undefined {
  const host = hostHeader.toLowerCase();
  // `[::1]:8080` → `[::1]`, `shop.example.com:8080` → `shop.example.com`.
  const hostname = host.replace(/:\d+$/u, "");
  let hostRank = 0;
  let hostLength = 0;
  if (matcher.hosts.length > 0) {
    let found = false;
    for (const bound of matcher.hosts) {
      const name = /:\d+$/u.test(bound) ? host : hostname;
      if (bound === name) {
        [hostRank, hostLength, found] = [2, bound.length, true];
        break;
      }
      if (bound.startsWith("*.") && name.endsWith(bound.slice(1)) && bound.length - 1 > hostLength) {
        [hostRank, hostLength, found] = [1, bound.length - 1, true];
      }
    }
    if (!found) return undefined;
  }
  let prefixLength = 0;
  if (matcher.prefixes.length > 0) {
    let found = false;
    for (const prefix of matcher.prefixes) {
      const claims = prefix === "/" || path === prefix || path.startsWith(`${prefix}/`);
      // The root claims every path but is no more specific than no prefix at all.
      const length = prefix === "/" ? 0 : prefix.length;
      if (claims && (!found || length > prefixLength)) [found, prefixLength] = [true, length];
    }
    if (!found) return undefined;
  }
  return [hostRank, hostLength, prefixLength];
}

/** One host × path-prefix pair of a deployment's binding, for a proxy that tries rules in order. */
export interface RouteRule {
  deployment_id: string;
  /** Lower-case host as bound (`*.example.com`, `shop.example.com:8080`), or null for any host. */
  host: string | null;
  /** Normalised path prefix; `/` claims every path. */
  prefix: string;
  /** The score {@link routeScore} gives a request this rule claims. */
  score: RouteScore;
}

/**
 * Every host × prefix rule of the given bindings, most specific first, so that the first rule
 * claiming a request names the deployment {@link routeScore} ranks best (a deployment's best
 * host and best prefix are one of its rules). Ties between deployments need the same rule,
 * which {@link checkRouteBinding} refuses, or several unbound deployments: `unbound` lists those
 * when there are two or more, and their catch-all rules are left out (the request is ambiguous).
 */
export function orderedRouteRules(
  bindings: ReadonlyArray<{ deployment_id: string; hosts: readonly string[]; path_prefixes: readonly string[] }>,
): { rules: RouteRule[]; unbound: string[] } {
  const unbound = bindings.filter((b) => isUnbound(b)).map((b) => b.deployment_id);
  const rules: RouteRule[] = [];
  for (const b of bindings) {
    if (isUnbound(b) && unbound.length > 1) continue;
    for (const key of routeKeys(b)) {
      const [bound, prefix] = key.split(" ") as [string, string];
      const host = bound === "*" ? null : bound;
      const hostScore: [number, number] =
        host === null ? [0, 0] : host.startsWith("*.") ? [1, host.length - 1] : [2, host.length];
      rules.push({
        deployment_id: b.deployment_id,
        host,
        prefix,
        score: [...hostScore, prefix === "/" ? 0 : prefix.length],
      });
    }
  }
  rules.sort(
    (a, b) =>
      compareRouteScores(b.score, a.score) ||
      a.deployment_id.localeCompare(b.deployment_id) ||
      `${a.host} ${a.prefix}`.localeCompare(`${b.host} ${b.prefix}`),
  );
  return { rules, unbound: unbound.length > 1 ? unbound : [] };
}

/**
 * Refuses a route binding of `deployment` that is malformed (a path prefix not starting with
 * `/`: exit 2) or claims a host and path prefix another live deployment of the environment
 * already claims (exit 3, naming both deployments and the pair). Archived deployments and
 * unbound ones (no hosts, no prefixes: the catch-all) take part in no collision here: several
 * of them may exist, and collide only once two have traffic, which the store refuses on every
 * write ({@link checkNewRouteCollisions}).
 */
export function checkRouteBinding(deployment: BundleDeployment, others: readonly BundleDeployment[]): void {
  const binding = deployment.route_binding;
  binding.path_prefixes.forEach((prefix, index) => {
    if (!prefix.startsWith("/") || /[\s?#]/u.test(prefix))
      throw new GreenticError(
        "invalid-argument",
        `path prefix ${JSON.stringify(prefix)} of deployment ${deployment.deployment_id} must start with '/' and contain no space, '?' or '#'`,
        { path: `route_binding.path_prefixes[${index}]`, hint: "write it as a URL path, e.g. /shop" },
      );
  });
  if (deployment.status === "archived" || isUnbound(binding)) return;
  const mine = new Set(routeKeys(binding));
  for (const other of others) {
    if (other.deployment_id === deployment.deployment_id || other.status === "archived") continue;
    if (isUnbound(other.route_binding)) continue;
    const clash = routeKeys(other.route_binding).find((key) => mine.has(key));
    if (clash === undefined) continue;
    const [host, prefix] = clash.split(" ") as [string, string];
    const where = `${host === "*" ? "any host" : `host ${host}`} and path prefix ${prefix}`;
    throw new GreenticError(
      "conflict",
      `the route binding of deployment ${deployment.deployment_id} (bundle ${deployment.bundle_id}) collides with deployment ${other.deployment_id} (bundle ${other.bundle_id}): both claim ${where}`,
      {
        hint: `give one of them another --host or --path-prefix, or change deployment ${other.deployment_id}'s binding with \`op bundles update\``,
        details: {
          code: "route-collision",
          deployment_id: deployment.deployment_id,
          other_deployment_id: other.deployment_id,
          host: host === "*" ? null : host,
          path_prefix: prefix,
        },
      },
    );
  }
}

/** What the routing of an environment's URL depends on: each deployment's binding and split. */
export interface RoutedEnvironment {
  environment_id: string;
  bundles: ReadonlyArray<{
    deployment_id: string;
    bundle_id: string;
    route_binding: { hosts: readonly string[]; path_prefixes: readonly string[] };
  }>;
  traffic_splits: ReadonlyArray<{ deployment_id: string; entries: ReadonlyArray<{ weight_bps: number }> }>;
}

/**
 * Two deployments with traffic whose bindings claim the same host and path prefix: the router
 * cannot tell their requests apart and answers 421 to them. `deployment_id` is the one whose
 * binding or traffic the change being judged brought in (see {@link newRouteCollisions}).
 */
export interface RouteCollision {
  deployment_id: string;
  other_deployment_id: string;
  /** Lower-case host both claim, or null for any host. */
  host: string | null;
  /** Normalised path prefix both claim. */
  path_prefix: string;
}

/**
 * The route keys of every deployment with weight in its split, whatever its status: the
 * router routes by the splits (runtime-config.json) alone.
 */
function servedKeys(env: RoutedEnvironment): Map<string, string[]> {
  const served = new Map<string, string[]>();
  for (const split of env.traffic_splits) {
    if (!split.entries.some((e) => e.weight_bps > 0)) continue;
    const deployment = env.bundles.find((b) => b.deployment_id === split.deployment_id);
    if (deployment !== undefined) served.set(deployment.deployment_id, routeKeys(deployment.route_binding));
  }
  return served;
}

/**
 * The collisions `after` has that `before` did not: pairs of deployments with traffic that
 * claim a host and path prefix alike (two unbound deployments both claim any host and `/`).
 * A pair that already collided before is left alone, so that a store an older version or a
 * hand edit left in that state still takes every other change, its way out included. In each
 * collision `deployment_id` is the deployment the change touched: it gained traffic or its
 * binding changed (the first of the two when both did).
 */
export function newRouteCollisions(before: RoutedEnvironment | undefined, after: RoutedEnvironment): RouteCollision[] {
  const now = servedKeys(after);
  if (now.size < 2) return [];
  const then = before === undefined ? new Map<string, string[]>() : servedKeys(before);
  const claimedBy = new Map<string, string[]>();
  for (const [id, keys] of now)
    for (const key of keys) {
      const ids = claimedBy.get(key);
      if (ids === undefined) claimedBy.set(key, [id]);
      else ids.push(id);
    }
  const collidedBefore = (a: string, b: string): boolean => {
    const [ka, kb] = [then.get(a), then.get(b)];
    return ka !== undefined && kb !== undefined && ka.some((key) => kb.includes(key));
  };
  const touched = (id: string): boolean => then.get(id)?.join("\n") !== now.get(id)!.join("\n");
  const seen = new Set<string>();
  const out: RouteCollision[] = [];
  for (const [key, ids] of claimedBy) {
    for (let i = 0; i < ids.length; i++)
      for (let j = i + 1; j < ids.length; j++) {
        const pair = [ids[i]!, ids[j]!].sort();
        if (seen.has(pair.join()) || collidedBefore(pair[0]!, pair[1]!)) continue;
        seen.add(pair.join());
        const [first, second] = touched(pair[0]!) || !touched(pair[1]!) ? pair : [pair[1]!, pair[0]!];
        const [host, prefix] = key.split(" ") as [string, string];
        out.push({
          deployment_id: first!,
          other_deployment_id: second!,
          host: host === "*" ? null : host,
          path_prefix: prefix,
        });
      }
  }
  return out;
}

/** `{"hosts":[],"path_prefixes":["/shop"]}`: a binding as it is written in an answers file. */
function bindingText(binding: { hosts: readonly string[]; path_prefixes: readonly string[] }): string {
  return JSON.stringify({ hosts: binding.hosts, path_prefixes: binding.path_prefixes });
}

/**
 * Refuses a change that leaves two deployments with traffic claiming the same requests (see
 * {@link newRouteCollisions}): the store runs this on every change it is asked to commit, so
 * no verb (`traffic set`, `bundles update`, `deploy`, a rollback ...) can write that state.
 * Exit 3 (`conflict`, `route-collision`), naming both deployments, their bindings and the
 * host and prefix both claim.
 */
export function checkNewRouteCollisions(before: RoutedEnvironment | undefined, after: RoutedEnvironment): void {
  const clash = newRouteCollisions(before, after)[0];
  if (clash === undefined) return;
  const mine = after.bundles.find((b) => b.deployment_id === clash.deployment_id)!;
  const other = after.bundles.find((b) => b.deployment_id === clash.other_deployment_id)!;
  const where = `${clash.host === null ? "any host" : `host ${clash.host}`} and path prefix ${clash.path_prefix}`;
  const [a, b] = [bindingText(mine.route_binding), bindingText(other.route_binding)];
  throw new GreenticError(
    "conflict",
    `deployment ${mine.deployment_id} (bundle ${mine.bundle_id}) and deployment ${other.deployment_id} (bundle ${other.bundle_id}) would both have traffic and both claim ${where} (\`route_binding\` ${a === b ? `${a} each` : `${a} and ${b}`}): the environment URL could only answer 421 to those requests`,
    {
      path: "route_binding",
      hint: `give deployment ${mine.deployment_id} (or ${other.deployment_id}) a host or path prefix of its own first: \`op bundles update ${after.environment_id} --answers FILE\` with FILE holding \`deployment_id: ${mine.deployment_id}\` and \`route_binding: {hosts: [], path_prefixes: [/PREFIX]}\` (or \`hosts: [HOST]\`)`,
      details: { code: "route-collision", ...clash },
    },
  );
}
