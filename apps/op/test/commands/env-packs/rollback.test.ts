import { it, expect } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["env-packs", "rollback"],
  setup: (s) => {
    s.ok(["env", "init"]);
    s.ok([
      "env-packs",
      "update",
      "local",
      "--slot",
      "telemetry",
      "--kind",
      "greentic.telemetry.stdout@0.1.0",
      "--pack-ref",
      "second",
    ]);
    s.ok([
      "env-packs",
      "update",
      "local",
      "--slot",
      "sessions",
      "--kind",
      "greentic.sessions.in-memory@0.1.0",
      "--pack-ref",
      "second",
    ]);
    return {};
  },
  valid: () => ({ environment_id: "local", slot: "telemetry" }),
  missingField: "slot",
  wrongType: ["slot", "[1]"],
  idempotency: () => ({
    first: { environment_id: "local", slot: "sessions", idempotency_key: "r-1" },
    second: { environment_id: "local", slot: "telemetry", idempotency_key: "r-1" },
  }),
  extra: () => [
    {
      name: "unknown slot",
      answers: "environment_id: local\nslot: teleport\n",
      exit: 2,
      kind: "validation",
      path: "slot",
    },
  ],
});

it("rollbacks from flags", () => {
  const { s } = suite.get();
  const r = s.op(["env-packs", "rollback", "local", "--slot", "state"]);
  expect([0, 3]).toContain(r.status);
});
