import { describe, expect, it } from "vitest";
import { create, rename, tempStore } from "./helpers.js";

describe("smoke", () => {
  it("creates, mutates and loads", async () => {
    const store = await tempStore();
    const a = await store.transact("staging", create("staging"), { noun: "env", verb: "create", create: true });
    expect(a.generation).toBe(1);
    const b = await store.transact("staging", rename("S2"), { noun: "env", verb: "update", precondition: { if_match: a.etag } });
    expect(b.generation).toBe(2);
    const loaded = await store.load("staging");
    expect(loaded.environment.name).toBe("S2");
    expect(loaded.etag).toBe(b.etag);
    expect(await store.verifyAudit("staging")).toEqual({ ok: true, lines: 2 });
    expect((await store.listBackups("staging")).length).toBe(1);
  });
});
