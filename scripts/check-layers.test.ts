import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { check, LAYERS } from "./check-layers.ts";

describe("check-layers", () => {
  it("finds nothing wrong in the tree, and lays out every workspace package", () => {
    expect(check()).toEqual([]);
    const names = execFileSync("pnpm", ["-r", "ls", "--depth", "-1", "--json"], { encoding: "utf8" });
    const workspace = (JSON.parse(names) as { name: string; path: string }[])
      .filter((p) => /\/(packages|apps)\//.test(p.path))
      .map((p) => p.name)
      .sort();
    expect(Object.keys(LAYERS).sort()).toEqual(workspace);
  });

  it("keeps the layers of the design: deploy-spec below store, env-packs and bundle, below operations, below op", () => {
    expect(LAYERS["@greentic/io-kit"]).toBe(0);
    expect(LAYERS["@greentic/deploy-spec"]).toBeLessThan(LAYERS["@greentic/environment-store"]!);
    expect(LAYERS["@greentic/env-packs"]).toBeLessThan(LAYERS["@greentic/deployer-local"]!);
    expect(LAYERS["@greentic/adapter-single-vm"]).toBeLessThan(LAYERS["@greentic/operations"]!);
    expect(LAYERS["@greentic/operations"]).toBeLessThan(LAYERS["@greentic/op"]!);
  });
});
