import { describe, expect, it } from "vitest";
import { digestTree, ensureBuilt, store } from "./helpers.js";

ensureBuilt();

// One precondition checker (the store's): a weak ETag, `*` and an empty --if-match are refused
// as invalid input (exit 2) by every verb, before anything is compared or written.
const INVALID = [
  { name: "a weak ETag", value: 'W/"0000000000000000000000000000000000000000000000000000000000000000"', says: "weak" },
  { name: "*", value: "*", says: '"*"' },
  { name: "an empty value", value: "", says: '--if-match "" is empty' },
];

describe("--if-match forms", () => {
  for (const c of INVALID) {
    it(`${c.name} is exit 2 invalid-argument for config set and env destroy, with nothing written`, () => {
      const s = store();
      s.ok(["env", "init"]);
      const before = digestTree(s.root);
      for (const args of [
        ["config", "set", "local", "--region", "eu-west", "--if-match", c.value],
        ["env", "destroy", "local", "--confirm", "--if-match", c.value],
      ]) {
        const r = s.op([...args, "--json"]);
        expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(2);
        expect(r.errorJson.error.kind).toBe("invalid-argument");
        expect(r.errorJson.error.message).toContain(c.says);
        expect(r.stdout).toBe("");
      }
      expect(digestTree(s.root)).toBe(before);
    });
  }

  it("a strong ETag that moved on is exit 3 precondition-failed for both verbs", () => {
    const s = store();
    s.ok(["env", "init"]);
    const stale = s.ok(["env", "show", "local"]).etag as string;
    s.ok(["config", "set", "local", "--region", "eu-west"]);
    for (const args of [
      ["config", "set", "local", "--region", "us-east", "--if-match", `"${stale}"`],
      ["env", "destroy", "local", "--confirm", "--if-match", stale],
    ]) {
      const r = s.op([...args, "--json"]);
      expect(r.status, r.stderr).toBe(3);
      expect(r.errorJson.error.kind).toBe("precondition-failed");
    }
    expect(s.ok(["config", "show", "local"]).host_config.region).toBe("eu-west");
  });
});
