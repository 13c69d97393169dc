import { expect, it } from "vitest";
import { UNKNOWN_ULID, deployHello, stageHello } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["revisions", "warm"],
  setup: (s) => {
    const d = deployHello(s);
    return { ...d, a: stageHello(s, d.deployment), b: stageHello(s, d.deployment) };
  },
  valid: (f) => ({ environment_id: "local", revision_id: f.a }),
  missingField: "revision_id",
  wrongType: ["revision_id", "true"],
  unknownTarget: { field: "revision_id", value: UNKNOWN_ULID, name: "unknown revision" },
  idempotency: (f) => ({
    first: { environment_id: "local", revision_id: f.a, idempotency_key: "rv-1" },
    second: { environment_id: "local", revision_id: f.b, idempotency_key: "rv-1" },
  }),
  extra: () => [
    {
      name: "malformed revision id",
      answers: "environment_id: local\nrevision_id: r1\n",
      exit: 2,
      kind: "validation",
      path: "revision_id",
    },
  ],
});

it("refuses to warm the revision that takes all the traffic, or succeeds for a free one", () => {
  const { s, f } = suite.get();
  const r = s.op(["revisions", "warm", "local", f.b, "--json"]);
  expect([0, 3], r.stderr).toContain(r.status);
});
