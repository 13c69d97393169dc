import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VERIFIED_FILE, listVerifiedEnvironments, readVerifiedEnvironment } from "../src/fast-read.js";
import { create, rename, tempStore } from "./helpers.js";

describe("fast-read", () => {
  it("serves what load and list return, from the record the commit wrote", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    await store.transact("f", create("f"), { noun: "env", verb: "create", create: true });
    await store.transact("e", rename("renamed"), { noun: "env", verb: "update" });
    const loaded = await store.load("e");
    expect(await readVerifiedEnvironment(store.root, "e")).toEqual({ ...loaded, runtime: undefined });
    expect(await listVerifiedEnvironments(store.root)).toEqual(await store.list());
  });

  it("vouches for nothing it did not validate: hand edits and stale bytes fall back", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    const file = join(store.root, "e", "environment.json");
    const older = await readFile(file);
    await store.transact("e", rename("two"), { noun: "env", verb: "update" });
    // A valid edit by hand: load reports it (it is not what generation 2 committed), the fast path does not vouch.
    const doc = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, `${JSON.stringify({ ...doc, name: "by hand" }, null, 2)}\n`);
    await expect(store.load("e")).rejects.toMatchObject({ kind: "integrity" });
    expect(await readVerifiedEnvironment(store.root, "e")).toBeUndefined();
    expect(await listVerifiedEnvironments(store.root)).toBeUndefined();
    // Bytes of another commit (a rolled-back or half-finished one) do not match the record either.
    await writeFile(file, older);
    expect(await readVerifiedEnvironment(store.root, "e")).toBeUndefined();
    // The next commit validates and vouches again.
    await store.transact("e", rename("three"), { noun: "env", verb: "update" });
    expect((await readVerifiedEnvironment(store.root, "e"))?.environment.name).toBe("three");
  });

  it("falls back on a missing, unsafe or unrecorded environment", async () => {
    const store = await tempStore();
    await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
    expect(await readVerifiedEnvironment(store.root, "nope")).toBeUndefined();
    expect(await readVerifiedEnvironment(store.root, "../e")).toBeUndefined();
    await writeFile(join(store.root, "e", VERIFIED_FILE), "{");
    expect(await readVerifiedEnvironment(store.root, "e")).toBeUndefined();
    expect(await listVerifiedEnvironments(join(store.root, "absent"))).toEqual([]);
  });

  it("imports only Node built-ins at run time (no zod, no deploy-spec)", async () => {
    for (const name of ["fast-read.ts", "segment.ts"]) {
      const source = await readFile(join(import.meta.dirname, "..", "src", name), "utf8");
      const runtimeImports = [...source.matchAll(/^import (?!type )[^;]*? from "([^"]+)";/gmu)].map((m) => m[1]);
      for (const spec of runtimeImports) expect(spec, `${name} imports ${spec}`).toMatch(/^(node:|\.\/segment\.js$)/u);
    }
  });
});
