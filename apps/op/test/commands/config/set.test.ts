import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["config", "set"],
  setup: (s) => (s.ok(["env", "init"]), {}),
  valid: () => ({ environment_id: "local", region: "eu-west" }),
  missingField: "environment_id",
  wrongType: ["region", "[1]"],
  idempotency: () => ({
    first: { environment_id: "local", region: "a", idempotency_key: "cs-1" },
    second: { environment_id: "local", region: "b", idempotency_key: "cs-1" },
  }),
});

it("sets fields from flags and shows them", () => {
  const { s } = suite.get();
  s.ok(["config", "set", "local", "--region", "us-east"]);
  expect(s.ok(["config", "show", "local"]).host_config.region).toBe("us-east");
});
