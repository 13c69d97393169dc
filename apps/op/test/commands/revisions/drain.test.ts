import { expect, it } from "vitest";
import { UNKNOWN_ULID, deployHello, digestTree, stageHello } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["revisions", "drain"],
  setup: (s) => {
    const d = deployHello(s);
    const a = stageHello(s, d.deployment);
    const b = stageHello(s, d.deployment);
    // drain takes ready revisions: warm both (their processes stop when the store is disposed)
    s.ok(["revisions", "warm", "local", a]);
    s.ok(["revisions", "warm", "local", b]);
    return { ...d, a, b };
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

it("refuses to drain the revision that carries the traffic (exit 3), changing nothing", async () => {
  const { s, f } = suite.get();
  const before = digestTree(s.root);
  for (const json of [false, true]) {
    const r = s.op(["revisions", "drain", "local", f.revision, ...(json ? ["--json"] : [])]);
    expect(r.status, r.stderr).toBe(3);
    const message = json ? r.errorJson.error.message : r.stderr;
    expect(message).toContain(
      `cannot drain revision ${f.revision}: it still carries 100% of deployment ${f.deployment}`,
    );
    if (json) {
      expect(r.errorJson.error.kind).toBe("conflict");
      expect(r.errorJson.error.hint).toContain("op traffic set");
    }
  }
  expect(digestTree(s.root)).toBe(before);
  // The environment URL still answers from that revision.
  const url = s.ok(["traffic", "show", "local"]).environment_url;
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(page.headers.get("x-greentic-revision")).toBe(f.revision);
  // Once its traffic moves away, the drain goes through.
  s.ok(["traffic", "set", "local", `${f.b}=100`, "--deployment", f.deployment, "--idempotency-key", "move-away"]);
  const drained = s.ok(["revisions", "drain", "local", f.revision]);
  expect(drained.revision.lifecycle).toBe("draining");
}, 120_000);
