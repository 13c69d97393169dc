import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { isErrorKind, type GreenticError } from "@greentic/deploy-spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperations, envInit, envPacksAdd, envPacksList, envPacksRemove } from "../src/index.js";
import { makeTemp, removeTemp } from "./helpers.js";

// The two built-in deployers live in their own packages and are registered lazily: loading
// operations loads neither; resolving a descriptor imports its package.

let temp: string;
beforeAll(async () => {
  temp = await makeTemp("builtin-deployers");
});
afterAll(() => removeTemp(temp));

async function failure(promise: Promise<unknown>): Promise<GreenticError | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => e as GreenticError,
  );
}

describe("greentic.deployer.single-vm in the operations registry", () => {
  it("resolves for the deployer slot, importing the adapter only then", async () => {
    const ops = createOperations({ storeRoot: join(temp, "store-a") });
    expect(ops.registry.has("greentic.deployer.single-vm")).toBe(false);
    const { handler, descriptor } = await ops.registry.resolveForSlot("deployer", "greentic.deployer.single-vm@0.1.0");
    expect([handler.slot, handler.descriptorPath, handler.supportedVersions, descriptor.raw]).toEqual([
      "deployer",
      "greentic.deployer.single-vm",
      "^0.1.0",
      "greentic.deployer.single-vm@0.1.0",
    ]);
    expect(ops.registry.list().find((h) => h.descriptor_path === "greentic.deployer.single-vm")).toMatchObject({
      slot: "deployer",
      source: "builtin",
    });
    // Resolving again (and concurrently) reuses the one registration.
    const again = await Promise.all([
      ops.registry.resolve("greentic.deployer.single-vm@0.1.3"),
      ops.registry.resolve("greentic.deployer.single-vm@0.1.0"),
    ]);
    expect(again.every((r) => r.handler === handler)).toBe(true);
  });

  it("refuses another version or another slot with the registry's errors", async () => {
    const ops = createOperations({ storeRoot: join(temp, "store-b") });
    const version = await failure(ops.registry.resolveForSlot("deployer", "greentic.deployer.single-vm@0.2.0"));
    expect(isErrorKind(version, "validation") && version.details).toEqual({
      code: "version-unsupported",
      kind: "greentic.deployer.single-vm@0.2.0",
      requested: "0.2.0",
      supported: "^0.1.0",
    });
    const slot = await failure(ops.registry.resolveForSlot("secrets", "greentic.deployer.single-vm@0.1.0"));
    expect(isErrorKind(slot, "validation") && slot.details).toMatchObject({
      code: "slot-mismatch",
      expected: "secrets",
      actual: "deployer",
    });
  });

  it("op env-packs add binds it to an environment's deployer slot", async () => {
    const ops = createOperations({ storeRoot: join(temp, "store-c") });
    await envInit(ops, { environment_id: "vm" });
    await envPacksRemove(ops, { environment_id: "vm", slot: "deployer" });
    await envPacksAdd(ops, { environment_id: "vm", slot: "deployer", kind: "greentic.deployer.single-vm@0.1.0" });
    const { packs } = await envPacksList(ops, "vm");
    expect(packs.find((r) => r.slot === "deployer")).toMatchObject({
      kind: "greentic.deployer.single-vm@0.1.0",
      handler: { descriptor_path: "greentic.deployer.single-vm", slot: "deployer" },
    });
  });
});

describe("lazy loading of both built-in deployers", () => {
  it.each([
    ["greentic.deployer.single-vm@0.1.0", "/adapter-single-vm/"],
    ["greentic.deployer.local-process@0.1.0", "/deployer-local/"],
  ])("loading @greentic/operations does not load %s; resolving it does", (kind, dir) => {
    const script = `
      import { registerHooks } from "node:module";
      const urls = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r; } });
      const ops = await import("@greentic/operations");
      const ctx = ops.createOperations({ storeRoot: process.argv[1] });
      const loaded = () => urls.some((u) => u.includes(${JSON.stringify(dir)}));
      const before = loaded();
      await ctx.registry.resolve(${JSON.stringify(kind)});
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script, join(temp, "store-d")], {
      cwd: join(import.meta.dirname, ".."),
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ before: false, after: true });
  });
});
