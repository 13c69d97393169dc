import { expect, it } from "vitest";
import { describeSlotVerb } from "./slot-verb-suite.js";

const suite = describeSlotVerb("remove");

it("removes from flags", () => {
  const { s } = suite.get();
  const r = s.ok(["env-packs", "remove", "local", "--slot", "state"]);
  expect(r.binding).toMatchObject({ slot: "state", kind: "greentic.state.in-memory@0.1.0" });
  const packs = s.ok(["env-packs", "list", "local"]).packs;
  expect(packs.map((p: { slot: string }) => p.slot)).not.toContain("state");
});
