import type { Environment } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { urlRouting } from "../src/url-routing.js";

// Status and doctor judge collisions by the rule the store refuses them with (deploy-spec's
// route keys), so both agree by construction; only the parts urlRouting reads are built here.
function env(
  deployments: Array<{ id: string; bundle: string; hosts?: string[]; prefixes?: string[]; weight?: number }>,
): Environment {
  return {
    bundles: deployments.map((d) => ({
      deployment_id: d.id,
      bundle_id: d.bundle,
      route_binding: { hosts: d.hosts ?? [], path_prefixes: d.prefixes ?? [] },
    })),
    traffic_splits: deployments.map((d) => ({
      deployment_id: d.id,
      entries: [{ revision_id: `r-${d.id}`, weight_bps: d.weight ?? 10_000 }],
    })),
  } as unknown as Environment;
}

const problem = (host: string, path: string) =>
  `Deployments d-a (bundle a) and d-b (bundle b) claim the same requests (${host}, path ${path}): the environment URL answers 421 to them. Give one a route binding with \`op bundles update\`.`;

describe("urlRouting", () => {
  it("reports a host and prefix two served deployments both claim, even when neither lists it first", () => {
    const e = env([
      { id: "d-b", bundle: "b", hosts: ["r.example", "Q.example"] },
      { id: "d-a", bundle: "a", hosts: ["p.example", "q.example"] },
    ]);
    expect(urlRouting(e, "http://127.0.0.1:8080/")).toEqual({ problems: [problem("host q.example", "/")], notes: [] });
  });

  it("reports two unbound served deployments as claiming any host and /", () => {
    const e = env([
      { id: "d-a", bundle: "a" },
      { id: "d-b", bundle: "b" },
    ]);
    expect(urlRouting(e, null).problems).toEqual([problem("any host", "/")]);
  });

  it("leaves out a deployment without traffic, and normalises prefixes as the router does", () => {
    const e = env([
      { id: "d-a", bundle: "a", prefixes: ["/shop/"] },
      { id: "d-b", bundle: "b", prefixes: ["/shop"] },
      { id: "d-c", bundle: "c", prefixes: ["/shop"], weight: 0 },
    ]);
    expect(urlRouting(e, null).problems).toEqual([problem("any host", "/shop")]);
  });

  it("notes a bare URL no binding claims, with how each deployment is reached", () => {
    const e = env([{ id: "d-a", bundle: "a", prefixes: ["/shop"] }]);
    expect(urlRouting(e, "http://127.0.0.1:8080/")).toEqual({
      problems: [],
      notes: [
        "The environment URL http://127.0.0.1:8080/ answers 404 to a request with its own host for /: no deployment's route binding claims it. Deployment d-a (bundle a) is reached with: curl http://127.0.0.1:8080/shop/.",
      ],
    });
  });
});
