import { expect, it } from "vitest";
import { UNKNOWN_ULID, deployHello, stageHello, yaml } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["traffic", "set"],
  setup: (s) => deployHello(s),
  valid: (f) => ({
    environment_id: "local",
    deployment_id: f.deployment,
    entries: [{ revision_id: f.revision, weight_bps: 10000 }],
    idempotency_key: "k-valid",
  }),
  missingField: "deployment_id",
  wrongType: ["entries", '"all of it"'],
  unknownTarget: { field: "deployment_id", value: UNKNOWN_ULID, name: "unknown deployment" },
  idempotency: (f) => ({
    first: {
      environment_id: "local",
      deployment_id: f.deployment,
      entries: [{ revision_id: f.revision, weight_percent: 100 }],
      idempotency_key: "k-reuse",
    },
    second: {
      environment_id: "local",
      deployment_id: f.deployment,
      entries: [{ revision_id: f.revision, weight_bps: 10000 }],
      idempotency_key: "k-reuse",
      updated_by: "someone-else",
    },
  }),
  extra: (f) => [
    {
      name: "out-of-range weight",
      answers: yaml({
        environment_id: "local",
        deployment_id: f.deployment,
        entries: [{ revision_id: f.revision, weight_bps: 10001 }],
        idempotency_key: "k1",
      }),
      exit: 2,
      kind: "validation",
      path: "entries.0.weight_bps",
      message: ["entries.0.weight_bps"],
    },
    {
      name: "weights not summing to 100%",
      answers: yaml({
        environment_id: "local",
        deployment_id: f.deployment,
        entries: [{ revision_id: f.revision, weight_percent: 90 }],
        idempotency_key: "k1",
      }),
      exit: 2,
      kind: "validation",
      message: ["weights sum to 90%; they must sum to exactly 100%"],
    },
    {
      name: "unknown revision",
      answers: yaml({
        environment_id: "local",
        deployment_id: f.deployment,
        entries: [{ revision_id: UNKNOWN_ULID, weight_bps: 10000 }],
        idempotency_key: "k1",
      }),
      exit: 4,
      kind: "not-found",
      message: [UNKNOWN_ULID],
    },
    {
      name: "positional weight out of range",
      answers: null,
      args: ["local", `${f.revision}=101`, "--deployment", f.deployment, "--idempotency-key", "k2"],
      exit: 2,
      kind: "invalid-argument",
      message: ["101"],
    },
    {
      name: "missing idempotency key (flags form)",
      answers: null,
      args: ["local", `${f.revision}=100`, "--deployment", f.deployment],
      exit: 2,
      kind: "validation",
      message: ["--idempotency-key: required field is missing"],
    },
  ],
});

it("sets a split from the positional form and replays the same key", () => {
  const { s, f } = suite.get();
  const args = [
    "traffic",
    "set",
    "local",
    `${f.revision}=100%`,
    "--deployment",
    f.deployment,
    "--idempotency-key",
    "pos-1",
  ];
  const first = s.ok(args);
  expect(first.split.entries).toEqual([{ revision_id: f.revision, weight_bps: 10000 }]);
  // The same key and payload again: the recorded outcome, not a second change.
  const again = s.op(args);
  expect(again.status).toBe(0);
  expect(again.stdout.split("\n")[0]).toBe(
    `Replayed traffic for deployment ${f.deployment} in local (split generation ${first.split.generation}, environment generation ${first.generation}):`,
  );
});

it("a revision that is only staged cannot take traffic (exit 3)", () => {
  const { s, f } = suite.get();
  const staged = stageHello(s, f.deployment);
  const r = s.op([
    "traffic",
    "set",
    "local",
    `${f.revision}=50`,
    `${staged}=50`,
    "--deployment",
    f.deployment,
    "--idempotency-key",
    "staged-1",
    "--json",
  ]);
  expect(r.status, r.stderr).toBe(3);
  expect(r.errorJson.error.kind).toBe("conflict");
  expect(r.stdout).toBe("");
});
