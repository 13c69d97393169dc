import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["secrets", "rotate"],
  setup: (s) => {
    s.ok(["env", "init"]);
    s.ok(["secrets", "put", "local", "db/password", "--value-stdin"], { input: "hunter2\n" });
    s.ok(["secrets", "put", "local", "api/token", "--value-stdin"], { input: "t0ken\n" });
    return {};
  },
  valid: () => ({ environment_id: "local", name: "db/password" }),
  missingField: "name",
  wrongType: ["name", "5"],
  stale: false,
  idempotency: () => ({
    first: { environment_id: "local", name: "api/token", idempotency_key: "s-1" },
    second: { environment_id: "local", name: "db/password", idempotency_key: "s-1" },
  }),
  extra: () => [
    {
      name: "bad secret name",
      answers: "environment_id: local\nname: ../escape\n",
      exit: 2,
      kind: "validation",
      path: "name",
    },
  ],
});

it("never prints the value", () => {
  const { s } = suite.get();
  const r = s.op(["secrets", "rotate", "local", "db/password", "--value-stdin"], { input: "topsecret-value\n" });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout + r.stderr).not.toContain("topsecret-value");
});
