import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";
import { create, rename, tempStore } from "./helpers.js";

async function rejects(p: Promise<unknown>): Promise<GreenticError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(GreenticError);
    return error as GreenticError;
  }
  throw new Error("expected a rejection");
}

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (name.isFile()) {
      const p = join(name.parentPath, name.name);
      out[p] = await readFile(p, "utf8");
    }
  }
  return out;
}

describe("one precondition checker", () => {
  const invalid = [`W/"${"0".repeat(64)}"`, "*", "", '"abc"', "w/x"];
  it("refuses weak, wildcard, empty and malformed if_match as invalid-argument in transact, restore and destroy", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const before = await tree(store.root);
    for (const if_match of invalid) {
      const precondition = { if_match };
      const errors = [
        await rejects(store.transact("e", rename("x"), { noun: "env", verb: "update", precondition })),
        await rejects(store.checkMutation("e", { noun: "env", verb: "update", precondition })),
        await rejects(store.destroy("e", { precondition })),
        await rejects(store.restore("e", "environment.json.20260701T120000.123000000Z.bak", precondition)),
      ];
      expect(errors.map((e) => e.kind)).toEqual(Array(4).fill("invalid-argument"));
    }
    expect((await rejects(store.destroy("e", { precondition: { expected_generation: -1 } }))).kind).toBe(
      "invalid-argument",
    );
    expect(await tree(store.root)).toEqual(before);
  });
});

describe("the crash-recovery journal is validated before recovery acts on it", () => {
  const cases: [string, (j: Record<string, unknown>) => void, string][] = [
    [
      "a path outside the side files",
      (j) => (j.files = [{ path: "../other/environment.json", prior: null }]),
      "not a side file",
    ],
    ["environment.json itself", (j) => (j.files = [{ path: "environment.json", prior: null }]), "not a side file"],
    [
      "a prior that is not a backup of the path",
      (j) => (j.files = [{ path: "runtime.json", prior: "../../x" }]),
      "is not a backup of runtime.json",
    ],
    [
      "another environment's event",
      (j) => ((j.event as Record<string, unknown>).env_id = "other"),
      'belongs to environment "other"',
    ],
    ["a negative generation", (j) => (j.generation = -3), "is not a generation"],
    ["a non-object", (j) => Object.assign(j, { schema: "x" }), 'schema is "x"'],
  ];
  for (const [name, damage, says] of cases) {
    it(`refuses ${name} with integrity naming the journal, deleting nothing`, async () => {
      const store = await tempStore();
      await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
      await store.transact("e", rename("two"), { noun: "env", verb: "update" });
      const journal: Record<string, unknown> = {
        schema: "greentic.store-journal.v1",
        base_generation: 2,
        generation: 3,
        files: [],
        event: { schema: "greentic.audit.event.v1", event_id: "01J0000000000000000000000", env_id: "e" },
      };
      damage(journal);
      const file = join(store.root, "e", ".txn.json");
      await writeFile(file, JSON.stringify(journal));
      const before = await tree(store.root);
      const err = await rejects(store.transact("e", rename("three"), { noun: "env", verb: "update" }));
      expect(err.kind).toBe("integrity");
      expect(err.path).toBe(file);
      expect(err.message).toContain(says);
      expect(await tree(store.root)).toEqual(before);
    });
  }
});
