import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";
import { create, tempRoot } from "./helpers.js";
import { LocalFsStore } from "../src/index.js";

async function storeAt(root: string): Promise<LocalFsStore> {
  return new LocalFsStore({ root, lockStaleMs: 2000, lockTimeoutMs: 20_000 });
}

describe("environment ids in the store (greentic-types EnvId charset)", () => {
  it("skips directories whose names are not environment ids and refuses to load them", async () => {
    const root = await tempRoot();
    const store = await storeAt(root);
    await store.transact("local", create("local"), { create: true, noun: "env", verb: "create" });
    for (const name of ["prod@eu", "préprod", "a+b"]) {
      await cp(join(root, "local"), join(root, name), { recursive: true });
      const file = join(root, name, "environment.json");
      await writeFile(file, (await readFile(file, "utf8")).replaceAll('"local"', JSON.stringify(name)));
    }
    await mkdir(join(root, "ok.dir_1-x"));
    expect((await store.list()).map((e) => e.environment_id)).toEqual(["local"]);
    for (const name of ["prod@eu", "préprod", "a+b"]) {
      const error = await store.load(name).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GreenticError);
      expect((error as GreenticError).kind).toBe("invalid-argument");
      expect((error as GreenticError).message).toContain("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
  });
});
