import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["env", "update"],
  setup: (s) => (s.ok(["env", "init"]), {}),
  valid: () => ({ environment_id: "local", region: { value: "eu-west" } }),
  missingField: "environment_id",
  wrongType: ["region", '"eu-west"'],
  idempotency: () => ({
    first: { environment_id: "local", region: { value: "a" }, idempotency_key: "u-1" },
    second: { environment_id: "local", region: { value: "b" }, idempotency_key: "u-1" },
  }),
  extra: () => [
    {
      name: "set and clear together",
      answers: 'environment_id: local\nregion: {"value": "x", "clear": true}\n',
      exit: 2,
      kind: "validation",
      message: ["region"],
    },
  ],
});

it("updates with --if-match taken from env show", () => {
  const { s } = suite.get();
  const { etag } = s.ok(["env", "show", "local"]);
  const r = s.ok(["env", "update", "local", "--name", "Local dev", "--if-match", etag]);
  expect(r.changed).toContain("name");
  const stale = s.op(["env", "update", "local", "--name", "Again", "--if-match", etag, "--json"]);
  expect(stale.status).toBe(3);
  expect(stale.errorJson.error.kind).toBe("precondition-failed");
});
