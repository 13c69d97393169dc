import { expect, it } from "vitest";
import { describeSlotVerb } from "./slot-verb-suite.js";

const suite = describeSlotVerb("rollback");

it("refuses from flags a slot that was never updated (exit 3, no-previous-binding)", () => {
  const { s } = suite.get();
  const r = s.op(["env-packs", "rollback", "local", "--slot", "state", "--json"]);
  expect(r.status).toBe(3);
  const error = JSON.parse(r.stderr).error;
  expect(error.kind).toBe("conflict");
  expect(error.details.code).toBe("no-previous-binding");
  expect(error.message).toBe("--slot state has no previous binding to roll back to");
});
