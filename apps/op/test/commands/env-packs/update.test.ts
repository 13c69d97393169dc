import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["env-packs", "update"],
  setup: (s) => (s.ok(["env", "create", "bare"]), s.ok(["env", "init"]), {}),
  valid: () => ({ environment_id: "local", slot: "telemetry", kind: "greentic.telemetry.stdout@0.1.0" }),
  missingField: "slot",
  wrongType: ["kind", "7"],
  idempotency: () => ({
    first: {
      environment_id: "local",
      slot: "sessions",
      kind: "greentic.sessions.in-memory@0.1.0",
      idempotency_key: "p-1",
    },
    second: {
      environment_id: "local",
      slot: "sessions",
      kind: "greentic.sessions.in-memory@0.1.0",
      pack_ref: "other",
      idempotency_key: "p-1",
    },
  }),
  extra: () => [
    {
      name: "unknown slot",
      answers: "environment_id: local\nslot: teleport\nkind: greentic.telemetry.stdout@0.1.0\n",
      exit: 2,
      kind: "validation",
      path: "slot",
    },
    {
      name: "malformed descriptor",
      answers: "environment_id: local\nslot: telemetry\nkind: not a descriptor\n",
      exit: 2,
      kind: "validation",
      path: "kind",
    },
    {
      name: "descriptor nobody serves",
      answers: "environment_id: local\nslot: telemetry\nkind: acme.telemetry.nothing@1.0.0\n",
      exit: 4,
      kind: "not-found",
      namesFile: false,
    },
  ],
});

it("lists the binding afterwards", () => {
  const { s } = suite.get();
  const packs = s.ok(["env-packs", "list", "local"]).packs;
  expect(packs.map((p: { slot: string }) => p.slot)).toContain("deployer");
});
