import { expect, it } from "vitest";
import { UNKNOWN_ULID, deployHello } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["traffic", "rollback"],
  setup: (s) => deployHello(s),
  valid: (f) => ({ environment_id: "local", deployment_id: f.deployment, updated_by: "ops" }),
  missingField: "deployment_id",
  wrongType: ["updated_by", "3"],
  unknownTarget: { field: "deployment_id", value: UNKNOWN_ULID, name: "unknown deployment" },
});

it("with no earlier split there is nothing to roll back to (exit 3)", () => {
  const { s, f } = suite.get();
  const r = s.op(["traffic", "rollback", "local", "--deployment", f.deployment, "--json"]);
  expect(r.status, r.stderr).toBe(3);
});
