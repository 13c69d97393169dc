import { describe, expect, it } from "vitest";
import type { BundleDeployment } from "../documents.js";
import type { GreenticError } from "../errors.js";
import { checkRouteBinding, normalisePathPrefix, routeKeys } from "./route-bindings.js";

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
