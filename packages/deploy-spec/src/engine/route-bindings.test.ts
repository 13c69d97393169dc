import { describe, expect, it } from "vitest";
import type { BundleDeployment } from "../documents.js";
import type { GreenticError } from "../errors.js";
import {
  checkNewRouteCollisions,
  checkRouteBinding,
  compareRouteScores,
  newRouteCollisions,
  normalisePathPrefix,
  orderedRouteRules,
  routeKeys,
  routeScore,
} from "./route-bindings.js";

const dep = (id: string, hosts: string[], path_prefixes: string[], status = "active") =>
  ({
    deployment_id: id,
    bundle_id: `b-${id}`,
    status,
    route_binding: { hosts, path_prefixes, tenant_selector: { tenant: "default", team: "default" } },
  }) as unknown as BundleDeployment;

function refusal(fn: () => void): GreenticError {
  try {
    fn();
  } catch (error) {
    return error as GreenticError;
  }
  throw new Error("not refused");
}

describe("route bindings", () => {
  it("keys every host with every prefix, lower-cased and without trailing slashes", () => {
    expect(routeKeys({ hosts: ["A.test", "b.test"], path_prefixes: ["/x/", "/"] })).toEqual([
      "a.test /x",
      "a.test /",
      "b.test /x",
      "b.test /",
    ]);
    expect(routeKeys({ hosts: [], path_prefixes: [] })).toEqual(["* /"]);
    expect(normalisePathPrefix("///")).toBe("/");
  });

  it("refuses a shared host and prefix as a conflict naming both deployments", () => {
    const e = refusal(() =>
      checkRouteBinding(dep("new", ["www.test"], ["/shop/"]), [dep("old", ["WWW.test"], ["/shop"])]),
    );
    expect(e.kind).toBe("conflict");
    expect(e.message).toBe(
      "the route binding of deployment new (bundle b-new) collides with deployment old (bundle b-old): both claim host www.test and path prefix /shop",
    );
    expect(e.details).toMatchObject({ code: "route-collision", host: "www.test", path_prefix: "/shop" });
  });

  it("lets distinct prefixes, archived and unbound deployments be", () => {
    expect(() =>
      checkRouteBinding(dep("new", ["www.test"], ["/shop/cart"]), [
        dep("a", ["www.test"], ["/shop"]),
        dep("b", ["www.test"], ["/shop/cart"], "archived"),
        dep("c", [], []),
      ]),
    ).not.toThrow();
    expect(() => checkRouteBinding(dep("new", [], []), [dep("c", [], [])])).not.toThrow();
  });

  it("refuses a prefix that is not a URL path (invalid-argument, naming the field)", () => {
    const e = refusal(() => checkRouteBinding(dep("new", [], ["shop"]), []));
    expect(e.kind).toBe("invalid-argument");
    expect(e.path).toBe("route_binding.path_prefixes[0]");
  });
});

describe("orderedRouteRules", () => {
  const bindings = [
    { deployment_id: "any", hosts: [], path_prefixes: [] },
    { deployment_id: "shop", hosts: ["shop.test", "*.shop.test"], path_prefixes: [] },
    { deployment_id: "api", hosts: [], path_prefixes: ["/api", "/api/v2/"] },
    { deployment_id: "wild", hosts: ["*.test"], path_prefixes: ["/static"] },
    { deployment_id: "port", hosts: ["shop.test:8443"], path_prefixes: ["/admin"] },
  ];
  const matcher = (b: (typeof bindings)[number]) => ({
    hosts: b.hosts.map((h) => h.toLowerCase()),
    prefixes: b.path_prefixes.map(normalisePathPrefix),
  });
  /** The deployment routeScore ranks best, as the local router picks it. */
  const best = (host: string, path: string) => {
    let top: { id: string; score: number[] } | undefined;
    for (const b of bindings) {
      const score = routeScore(matcher(b), host, path);
      if (score !== undefined && (top === undefined || compareRouteScores(score, top.score) > 0))
        top = { id: b.deployment_id, score };
    }
    return top?.id;
  };
  /** The deployment of the first rule that claims the request, as a proxy trying rules in order picks it. */
  const first = (host: string, path: string) =>
    orderedRouteRules(bindings).rules.find(
      (r) => routeScore({ hosts: r.host === null ? [] : [r.host], prefixes: [r.prefix] }, host, path) !== undefined,
    )?.deployment_id;

  it("tries rules so that the first claiming a request is the deployment routeScore ranks best", () => {
    const requests: Array<[string, string, string]> = [
      ["shop.test", "/", "shop"],
      ["SHOP.test:8080", "/api/x", "shop"],
      ["a.shop.test", "/static/x", "shop"],
      ["a.test", "/static/x", "wild"],
      ["a.test", "/staticx", "any"],
      ["other.example", "/api", "api"],
      ["other.example", "/api/v2/x", "api"],
      ["other.example", "/apix", "any"],
      ["shop.test:8443", "/admin/users", "port"],
      ["shop.test:8443", "/", "shop"],
    ];
    for (const [host, path, want] of requests) {
      expect({ host, path, best: best(host, path) }).toEqual({ host, path, best: want });
      expect({ host, path, first: first(host, path) }).toEqual({ host, path, first: want });
    }
  });

  it("leaves out the catch-all of several unbound deployments and names them", () => {
    const r = orderedRouteRules([
      { deployment_id: "b", hosts: [], path_prefixes: [] },
      { deployment_id: "a", hosts: [], path_prefixes: [] },
      { deployment_id: "c", hosts: [], path_prefixes: ["/c"] },
    ]);
    expect(r.unbound).toEqual(["b", "a"]);
    expect(r.rules).toEqual([{ deployment_id: "c", host: null, prefix: "/c", score: [0, 0, 2] }]);
  });
});

describe("newRouteCollisions / checkNewRouteCollisions", () => {
  const d = (id: string, hosts: string[] = [], path_prefixes: string[] = []) => ({
    deployment_id: id,
    bundle_id: `b-${id}`,
    route_binding: { hosts, path_prefixes },
  });
  const env = (bundles: ReturnType<typeof d>[], served: string[]) => ({
    environment_id: "prod",
    bundles,
    traffic_splits: served.map((id) => ({ deployment_id: id, entries: [{ weight_bps: 10_000 }] })),
  });

  it("finds two deployments with traffic claiming the same requests, the one the change touched first", () => {
    const before = env([d("A"), d("B")], ["A"]);
    expect(newRouteCollisions(before, env([d("A"), d("B")], ["A", "B"]))).toEqual([
      { deployment_id: "B", other_deployment_id: "A", host: null, path_prefix: "/" },
    ]);
    // A binding removed: the deployment that lost it is the one named first.
    const bound = env([d("A"), d("B", [], ["/shop"])], ["A", "B"]);
    expect(newRouteCollisions(bound, env([d("A"), d("B")], ["A", "B"]))).toEqual([
      { deployment_id: "B", other_deployment_id: "A", host: null, path_prefix: "/" },
    ]);
    // A root prefix claims what no binding claims, exactly like no binding at all.
    expect(newRouteCollisions(undefined, env([d("A"), d("B", [], ["/"])], ["A", "B"]))).toEqual([
      { deployment_id: "A", other_deployment_id: "B", host: null, path_prefix: "/" },
    ]);
    expect(
      newRouteCollisions(undefined, env([d("A", ["WWW.test"], ["/x/"]), d("B", ["www.test"], ["/x"])], ["A", "B"])),
    ).toEqual([{ deployment_id: "A", other_deployment_id: "B", host: "www.test", path_prefix: "/x" }]);
  });

  it("leaves deployments without traffic, distinct bindings and pairs that already collided alone", () => {
    expect(newRouteCollisions(undefined, env([d("A"), d("B")], ["A"]))).toEqual([]);
    expect(
      newRouteCollisions(undefined, env([d("A"), d("B", ["www.test"]), d("C", [], ["/c"])], ["A", "B", "C"])),
    ).toEqual([]);
    const legacy = env([d("A"), d("B"), d("C")], ["A", "B"]);
    // Any other change to a store left colliding (by an older version, by hand) goes through...
    expect(newRouteCollisions(legacy, env([d("A"), d("B"), d("C")], ["A", "B"]))).toEqual([]);
    expect(newRouteCollisions(legacy, env([d("A"), d("B", [], ["/b"]), d("C")], ["A", "B"]))).toEqual([]);
    // ...but a third deployment joining them is a new collision with each.
    expect(newRouteCollisions(legacy, env([d("A"), d("B"), d("C")], ["A", "B", "C"]))).toEqual([
      { deployment_id: "C", other_deployment_id: "A", host: null, path_prefix: "/" },
      { deployment_id: "C", other_deployment_id: "B", host: null, path_prefix: "/" },
    ]);
  });

  it("refuses a new collision as a conflict naming both deployments, the field and its value, with the way out", () => {
    const e = refusal(() => checkNewRouteCollisions(env([d("A"), d("B")], ["A"]), env([d("A"), d("B")], ["A", "B"])));
    expect(e.kind).toBe("conflict");
    expect(e.message).toBe(
      'deployment B (bundle b-B) and deployment A (bundle b-A) would both have traffic and both claim any host and path prefix / (`route_binding` {"hosts":[],"path_prefixes":[]} each): the environment URL could only answer 421 to those requests',
    );
    expect(e.path).toBe("route_binding");
    expect(e.hint).toBe(
      "give deployment B (or A) a host or path prefix of its own first: `op bundles update prod --answers FILE` with FILE holding `deployment_id: B` and `route_binding: {hosts: [], path_prefixes: [/PREFIX]}` (or `hosts: [HOST]`)",
    );
    expect(e.details).toEqual({
      code: "route-collision",
      deployment_id: "B",
      other_deployment_id: "A",
      host: null,
      path_prefix: "/",
    });
    const mixed = refusal(() => checkNewRouteCollisions(undefined, env([d("A"), d("B", [], ["/"])], ["A", "B"])));
    expect(mixed.message).toContain(
      '(`route_binding` {"hosts":[],"path_prefixes":[]} and {"hosts":[],"path_prefixes":["/"]})',
    );
    expect(() => checkNewRouteCollisions(undefined, env([d("A"), d("B", ["b.test"])], ["A", "B"]))).not.toThrow();
  });
});
