import { expect, it } from "vitest";
import { UNKNOWN_ULID } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["bundles", "update"],
  setup: (s) => (
    s.ok(["env", "init"]),
    { deployment: s.ok(["bundles", "add", "local", "--bundle-id", "shop"]).deployment.deployment_id as string }
  ),
  valid: (f) => ({ environment_id: "local", deployment_id: f.deployment, status: "paused" }),
  missingField: "deployment_id",
  wrongType: ["status", '"sleeping"'],
  unknownTarget: { field: "deployment_id", value: UNKNOWN_ULID, name: "unknown deployment" },
  idempotency: (f) => ({
    first: { environment_id: "local", deployment_id: f.deployment, status: "active", idempotency_key: "bu-1" },
    second: { environment_id: "local", deployment_id: f.deployment, status: "paused", idempotency_key: "bu-1" },
  }),
  extra: () => [
    {
      name: "malformed deployment id",
      answers: "environment_id: local\ndeployment_id: not-a-ulid\n",
      exit: 2,
      kind: "validation",
      path: "deployment_id",
    },
  ],
});

it("pauses a deployment from flags", () => {
  const { s, f } = suite.get();
  expect(
    s.ok(["bundles", "update", "local", "--deployment", f.deployment, "--status", "paused"]).deployment.status,
  ).toBe("paused");
});
