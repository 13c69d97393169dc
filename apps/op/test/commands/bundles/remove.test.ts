import { expect, it } from "vitest";
import { UNKNOWN_ULID } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["bundles", "remove"],
  setup: (s) => {
    s.ok(["env", "init"]);
    const add = (id: string) => s.ok(["bundles", "add", "local", "--bundle-id", id]).deployment.deployment_id as string;
    return { deployment: add("shop"), other: add("blog"), third: add("wiki") };
  },
  valid: (f) => ({ environment_id: "local", deployment_id: f.deployment }),
  missingField: "deployment_id",
  wrongType: ["deployment_id", "[]"],
  unknownTarget: { field: "deployment_id", value: UNKNOWN_ULID, name: "unknown deployment" },
  idempotency: (f) => ({
    first: { environment_id: "local", deployment_id: f.other, idempotency_key: "br-1" },
    second: { environment_id: "local", deployment_id: f.third, idempotency_key: "br-1" },
  }),
});

it("removes a deployment", () => {
  const { s, f } = suite.get();
  expect(s.ok(["bundles", "remove", "local", "--deployment", f.deployment]).deployment_id).toBe(f.deployment);
});
