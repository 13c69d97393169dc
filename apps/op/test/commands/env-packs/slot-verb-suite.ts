import { describeMutating } from "../../mutating-suite.js";

// The env-packs verbs come in twins that take the same answers: `add`/`update` (slot + kind)
// and `remove`/`rollback` (slot alone). Each twin's test file runs the same mutating suite
// through its own verb; what differs (the environment, the verb-specific outcomes) is passed in.

/** `env-packs add` and `env-packs update`: binds `telemetry`/`sessions` in `envId`. */
export function describeBindVerb(verb: "add" | "update", envId: string) {
  return describeMutating({
    verb: ["env-packs", verb],
    setup: (s) => (s.ok(["env", "create", "bare"]), s.ok(["env", "init"]), {}),
    valid: () => ({ environment_id: envId, slot: "telemetry", kind: "greentic.telemetry.stdout@0.1.0" }),
    missingField: "slot",
    wrongType: ["kind", "7"],
    idempotency: () => ({
      first: {
        environment_id: envId,
        slot: "sessions",
        kind: "greentic.sessions.in-memory@0.1.0",
        idempotency_key: "p-1",
      },
      second: {
        environment_id: envId,
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
}

/**
 * `env-packs remove` and `env-packs rollback` on `local`, after `telemetry` and `sessions` were
 * updated once (so each has a previous binding to roll back to). `state` is left as `env init`
 * bound it.
 */
export function describeSlotVerb(verb: "remove" | "rollback") {
  const update = (slot: string, kind: string) => [
    "env-packs",
    "update",
    "local",
    "--slot",
    slot,
    "--kind",
    kind,
    "--pack-ref",
    "second",
  ];
  return describeMutating({
    verb: ["env-packs", verb],
    setup: (s) => {
      s.ok(["env", "init"]);
      s.ok(update("telemetry", "greentic.telemetry.stdout@0.1.0"));
      s.ok(update("sessions", "greentic.sessions.in-memory@0.1.0"));
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
}
