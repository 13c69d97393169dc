import { LOCAL_DEFAULT_BINDINGS } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { createOperationsRegistry } from "../src/index.js";

describe("createOperationsRegistry", () => {
  it("serves every local default binding (builtin_table_matches_default_bindings)", async () => {
    const registry = createOperationsRegistry({ plugins: [] });
    expect(LOCAL_DEFAULT_BINDINGS).toHaveLength(6);
    for (const binding of LOCAL_DEFAULT_BINDINGS) {
      const resolved = await registry.resolveForSlot(binding.slot, binding.kind);
      expect(resolved.handler.slot).toBe(binding.slot);
    }
    expect(registry.list()).toHaveLength(LOCAL_DEFAULT_BINDINGS.length);
  });

  it("imports the built-in deployers only when they are resolved, both the same way", async () => {
    const registry = createOperationsRegistry({ plugins: [] });
    const listed = () => registry.list().map((info) => info.descriptor_path);
    expect(listed()).not.toContain("greentic.deployer.local-process");
    expect(listed()).not.toContain("greentic.deployer.single-vm");
    for (const path of ["greentic.deployer.local-process", "greentic.deployer.single-vm"]) {
      const { handler } = await registry.resolveForSlot("deployer", `${path}@0.1.0`);
      expect([handler.descriptorPath, handler.slot]).toEqual([path, "deployer"]);
      expect(registry.list().find((info) => info.descriptor_path === path)?.source).toBe("builtin");
    }
  });

  it("passes the local-process options to the deployer it builds", async () => {
    const registry = createOperationsRegistry({ plugins: [], localProcess: { runtimeBin: "/nowhere/bin.js" } });
    const { handler } = await registry.resolve("greentic.deployer.local-process@0.1.0");
    const checks = await Promise.all(
      (handler.preflight?.() ?? []).map(async (check) => [check.name, await check.run(AbortSignal.timeout(5_000))]),
    );
    expect(checks).toContainEqual(["runtime-built", { ok: false, detail: "/nowhere/bin.js does not exist" }]);
  });
});
