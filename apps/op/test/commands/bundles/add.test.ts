import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["bundles", "add"],
  setup: (s) => (s.ok(["env", "init"]), {}),
  valid: () => ({ environment_id: "local", bundle_id: "shop" }),
  missingField: "bundle_id",
  wrongType: ["bundle_id", "12"],
  idempotency: () => ({
    first: { environment_id: "local", bundle_id: "blog", idempotency_key: "b-1" },
    second: { environment_id: "local", bundle_id: "wiki", idempotency_key: "b-1" },
  }),
  extra: () => [
    {
      name: "revenue shares not summing to 10000",
      answers: 'environment_id: local\nbundle_id: x\nrevenue_share: [{"party_id": "a", "basis_points": 5000}]\n',
      exit: 2,
      kind: "validation",
      path: "revenue_share",
    },
    {
      name: "revenue share out of range",
      answers: 'environment_id: local\nbundle_id: x\nrevenue_share: [{"party_id": "a", "basis_points": 20000}]\n',
      exit: 2,
      kind: "validation",
      path: "revenue_share.0.basis_points",
    },
  ],
});

it("adds a deployment and lists it", () => {
  const { s } = suite.get();
  const r = s.ok(["bundles", "add", "local", "--bundle-id", "docs", "--path-prefix", "/docs"]);
  expect(r.deployment.bundle_id).toBe("docs");
  const list = s.op(["bundles", "list", "local"]);
  expect(list.stdout).toMatch(/DEPLOYMENT\s+BUNDLE/);
  expect(list.stdout).toContain("docs");
});
