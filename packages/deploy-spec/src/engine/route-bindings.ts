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
 * Refuses a route binding of `deployment` that is malformed (a path prefix not starting with
 * `/`: exit 2) or claims a host and path prefix another live deployment of the environment
 * already claims (exit 3, naming both deployments and the pair). Archived deployments and
 * unbound ones (no hosts, no prefixes: the catch-all, chosen by the `x-greentic-deployment`
 * header when there are several) take part in no collision.
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
