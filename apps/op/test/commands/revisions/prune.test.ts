import { expect, it } from "vitest";
import { UNKNOWN_ULID, deployHello, helloVariant } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["revisions", "prune"],
  setup: (s) => deployHello(s),
  valid: () => ({ environment_id: "local", keep: 2 }),
  wrongType: ["keep", '"two"'],
  stale: false,
  unknownTarget: { field: "deployment_id", value: UNKNOWN_ULID, name: "unknown deployment" },
  extra: () => [
    {
      name: "keep below 1",
      answers: "environment_id: local\nkeep: 0\n",
      exit: 2,
      kind: "validation",
      path: "keep",
    },
  ],
});

it("keeps the newest N and the rollback target, archives the rest and stops their processes", async () => {
  const { s } = suite.get();
  const deployed = ["p1", "p2", "p3", "p4"].map((v) => s.ok(["deploy", "--bundle", helloVariant(v)]));
  for (const d of deployed) expect((await fetch(d.url)).status).toBe(200);
  const [a, b, c, d] = deployed;
  const r = s.ok(["revisions", "prune", "local", "--keep", "1"]);
  // d is the newest; c is the one `op traffic rollback` returns to; b, a and the setup's revision go.
  const setupRevision = s.ok(["revisions", "list", "local"]).revisions.find((x: any) => x.sequence === 1).revision_id;
  expect(r.keep).toBe(1);
  expect(r.pruned.map((p: any) => p.revision_id)).toEqual([b.revision_id, a.revision_id, setupRevision]);
  expect(r.pruned.every((p: any) => p.from === "ready")).toBe(true);
  expect(r.protected).toEqual([
    { revision_id: c.revision_id, deployment_id: c.deployment_id, reason: "rollback-stash" },
  ]);
  for (const gone of [a, b]) await expect(fetch(gone.url)).rejects.toThrow();
  for (const kept of [c, d]) expect((await fetch(kept.url)).status).toBe(200);
  const lifecycle = Object.fromEntries(
    s.ok(["revisions", "list", "local"]).revisions.map((x: any) => [x.revision_id, x.lifecycle]),
  );
  expect([
    lifecycle[a.revision_id],
    lifecycle[b.revision_id],
    lifecycle[c.revision_id],
    lifecycle[d.revision_id],
  ]).toEqual(["archived", "archived", "ready", "ready"]);
  // Rollback still works, and a second prune has nothing left to do.
  s.ok(["traffic", "rollback", "local", "--deployment", d.deployment_id]);
  const again = s.op(["revisions", "prune", "local", "--keep", "1"]);
  expect(again.status, again.stderr).toBe(0);
  expect(again.stdout).toContain(`Kept ${c.revision_id}: carries traffic.`);
  expect(again.stdout).toContain("Nothing to prune in local (keeping 1 per deployment).");
  // d is the newest, so it is kept without needing the stash's protection.
  expect(again.stdout).not.toContain(d.revision_id);
}, 120_000);
