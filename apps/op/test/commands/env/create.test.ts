import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["env", "create"],
  setup: () => ({}),
  valid: () => ({ environment_id: "staging", name: "Staging", region: "eu-west" }),
  missingField: "environment_id",
  wrongType: ["name", "[1, 2]"],
  unknownEnv: false,
  stale: false,
  idempotency: () => ({
    first: { environment_id: "made", name: "A", idempotency_key: "c-1" },
    second: { environment_id: "made", name: "B", idempotency_key: "c-1" },
  }),
  extra: () => [
    {
      name: "invalid environment id",
      answers: "environment_id: ../etc\n",
      exit: 2,
      kind: "validation",
      path: "environment_id",
    },
    {
      name: "bad listen address",
      answers: "environment_id: x1\nlisten_addr: nowhere\n",
      exit: 2,
      kind: "validation",
      path: "listen_addr",
    },
  ],
});

it("creates an environment, then refuses to create it again (exit 3)", () => {
  const { s } = suite.get();
  expect(s.ok(["env", "create", "qa", "--name", "QA"]).environment_id).toBe("qa");
  const again = s.op(["env", "create", "qa", "--json"]);
  expect(again.status).toBe(3);
  expect(again.errorJson.error.kind).toBe("conflict");
});
