import { GreenticError, type Environment } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { defaultDeployment, parseRevisionRef, resolveDeploymentRef, resolveRevisionRef } from "./refs.js";

const D1 = "01JB7Z5Q0D6E7F8G9H0J1K2M3N";
const D2 = "01JB7Z5Q0D6E7F8G9H0J1K2M3P";
const R1 = "01JB7Z6S4Y2M3N4P5Q6R7S8T9V";
const R2 = "01JB7Z6S4Y2M3N4P5Q6R7S8T9W";
const R3 = "01JB7Z9X1A2B3C4D5E6F7G8H9J";
const R4 = "01JC000000000000000000000A";

function rev(id: string, deployment: string, bundle: string, sequence: number, lifecycle = "ready") {
  return { revision_id: id, deployment_id: deployment, bundle_id: bundle, sequence, lifecycle };
}

/** Only the fields the resolver reads. */
const env = {
  environment_id: "local",
  bundles: [
    { deployment_id: D1, bundle_id: "hello", customer_id: "local-dev" },
    { deployment_id: D2, bundle_id: "shop", customer_id: "acme" },
  ],
  revisions: [
    rev(R1, D1, "hello", 1),
    rev(R2, D1, "hello", 2),
    rev(R3, D1, "hello", 3, "archived"),
    rev(R4, D2, "shop", 1),
  ],
  traffic_splits: [
    {
      deployment_id: D1,
      entries: [
        { revision_id: R1, weight_bps: 9000 },
        { revision_id: R2, weight_bps: 1000 },
      ],
    },
  ],
} as unknown as Environment;

function failure(fn: () => unknown): GreenticError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GreenticError) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

describe("revision references", () => {
  const hello = env.bundles[0]!;
  it.each([
    [R2, R2],
    [R2.toLowerCase(), R2],
    ["01JC00", R4],
    ["01jc0000", R4],
    ["@1", R1],
    ["@3", R3],
    ["latest", R2],
    ["LATEST", R2],
    ["previous", R1],
    ["stable", R1],
  ])("%s in deployment hello -> %s", (ref, id) => {
    const scope = id === R4 ? undefined : hello;
    expect(resolveRevisionRef(env, ref, { deployment: scope }).revision_id).toBe(id);
  });

  it("an ambiguous prefix is invalid-argument listing every candidate", () => {
    const e = failure(() => resolveRevisionRef(env, "01jb7z6s", { label: "REV" }));
    expect(e.kind).toBe("invalid-argument");
    expect(e.message).toBe(`REV: "01jb7z6s" matches 2 revisions: ${R1} (hello @1, ready), ${R2} (hello @2, ready)`);
    expect(e.hint).toBe("give more characters of the id, or @N with the sequence number");
  });

  it("a prefix shorter than 6 characters, a bad @N or a word that cannot be a tag is not a reference (exit 2 before any lookup)", () => {
    for (const ref of ["01JB7", "@0", "@x", "new est", "-newest", "01JB7Z6S4Y2M3N4P5Q6R7S8T9VX", ""]) {
      const e = failure(() => parseRevisionRef(ref, { label: "REV" }));
      expect(e.kind, ref).toBe("invalid-argument");
      expect(e.message, ref).toBe(`REV: ${JSON.stringify(ref)} is not a revision reference`);
    }
  });

  it("a word is a tag, looked up in any case; an unknown tag is invalid-argument listing the tags", () => {
    expect(parseRevisionRef("Canary")).toEqual({ kind: "tag", tag: "canary" });
    const e = failure(() => resolveRevisionRef(env, "newest", { label: "REV", deployment: hello }));
    expect(e.kind).toBe("invalid-argument");
    expect(e.message).toBe(
      `REV: "newest" is not a revision reference: no revision is tagged "newest" in deployment ${D1}`,
    );
    expect(e.hint).toBe(
      "no revision there has any; give one this name with `op revisions tag REV newest`, or name the revision by id, @N, latest, previous or stable",
    );
  });

  it("nothing matching is not-found", () => {
    expect(failure(() => resolveRevisionRef(env, "@9", { deployment: hello })).message).toBe(
      `revision: deployment ${D1} (hello) has no revision @9`,
    );
    expect(failure(() => resolveRevisionRef(env, "01ZZZZZZ")).kind).toBe("not-found");
    const shop = env.bundles[1]!;
    expect(failure(() => resolveRevisionRef(env, "stable", { deployment: shop })).message).toBe(
      `revision: deployment ${D2} (shop) sends no traffic anywhere, so no revision is stable`,
    );
    expect(failure(() => resolveRevisionRef(env, "previous", { deployment: shop })).message).toBe(
      `revision: deployment ${D2} (shop) has only one revision that is not archived, so none is previous`,
    );
  });

  it("@N and the words need a deployment when the environment has several", () => {
    const e = failure(() => resolveRevisionRef(env, "latest", { deploymentLabel: "--deployment" }));
    expect(e.kind).toBe("invalid-argument");
    expect(e.message).toBe(
      `--deployment is needed: environment local has 2 deployments: ${D1} (bundle hello, customer local-dev), ${D2} (bundle shop, customer acme)`,
    );
  });

  it("stable with two revisions at the same top weight is ambiguous", () => {
    const even = structuredClone(env);
    even.traffic_splits[0]!.entries = [
      { revision_id: R1, weight_bps: 5000 },
      { revision_id: R2, weight_bps: 5000 },
    ];
    expect(failure(() => resolveRevisionRef(even, "stable", { deployment: hello })).kind).toBe("invalid-argument");
  });
});

describe("deployment references", () => {
  it.each([
    [D1, D1],
    [D2.toLowerCase(), D2],
    ["hello", D1],
    ["shop", D2],
  ])("%s -> %s", (ref, id) => {
    expect(resolveDeploymentRef(env, ref).deployment_id).toBe(id);
  });

  it("a prefix both share is ambiguous; an unknown name is not-found and lists the deployments", () => {
    expect(failure(() => resolveDeploymentRef(env, "01jb7z5q", { label: "--deployment" })).message).toBe(
      `--deployment: "01jb7z5q" matches 2 deployments: ${D1} (bundle hello, customer local-dev), ${D2} (bundle shop, customer acme)`,
    );
    const e = failure(() => resolveDeploymentRef(env, "nope", { label: "--deployment" }));
    expect(e.kind).toBe("not-found");
    expect(e.hint).toContain(`${D1} (bundle hello, customer local-dev)`);
  });

  it("the default deployment: the revisions' one, else the only one", () => {
    expect(defaultDeployment(env, { revisions: [env.revisions[3]!] }).deployment_id).toBe(D2);
    const one = { ...env, bundles: [env.bundles[0]!] } as Environment;
    expect(defaultDeployment(one).deployment_id).toBe(D1);
  });
});
