import { expect, it } from "vitest";
import { describeBindVerb } from "./slot-verb-suite.js";

const suite = describeBindVerb("update", "local");

it("lists the binding afterwards", () => {
  const { s } = suite.get();
  const packs = s.ok(["env-packs", "list", "local"]).packs;
  expect(packs.map((p: { slot: string; kind: string }) => `${p.slot}=${p.kind}`)).toContain(
    "sessions=greentic.sessions.in-memory@0.1.0",
  );
});
