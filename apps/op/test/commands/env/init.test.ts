import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["env", "init"],
  setup: (s) => (s.ok(["env", "init"]), {}),
  valid: () => ({ environment_id: "local", idempotency_key: "init-1" }),
  wrongType: ["environment_id", "42"],
  unknownEnv: false,
  stale: false,
  extra: () => [
    {
      name: "bad public url",
      answers: "environment_id: fresh\npublic_base_url: not a url\n",
      exit: 2,
      kind: "validation",
      path: "public_base_url",
    },
    {
      name: "stale precondition on an existing environment that needs healing",
      answers: null,
      args: ["local", "--expected-generation", "9999"],
      exit: 3,
      kind: "precondition-failed",
      namesFile: false,
    },
  ],
});

it("is idempotent: a second init changes nothing", () => {
  const { s } = suite.get();
  const r = s.ok(["env", "init"]);
  expect(r.outcome).toBe("untouched");
  const h = s.op(["env", "init"]);
  expect(h.stdout).toContain("already initialised");
});
