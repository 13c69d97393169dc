import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { LocalProcessDeployer, localRouterStatus } from "../src/index.js";
import { contextFor, testDir } from "./helpers.js";

async function rejection(promise: Promise<unknown>): Promise<GreenticError> {
  try {
    await promise;
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

async function plant(root: string, area: string, name: string, doc: unknown): Promise<string> {
  const dir = join(root, "local", area);
  await mkdir(dir, { recursive: true });
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(doc));
  return file;
}

describe("the local-process deployer's records are checked on read", () => {
  it("a splits.json with a wrong field is integrity naming the file and the field", async () => {
    const root = await testDir();
    const file = await plant(root, "traffic", "splits.json", {
      schema: "greentic.local-process.splits.v1",
      splits: { D1: { bundle_id: "hello", entries: [{ revision_id: "R1", weight_bps: "all" }] } },
    });
    const error = await rejection(new LocalProcessDeployer().runtimeConfig(contextFor(root)));
    expect(error.kind).toBe("integrity");
    expect(error.message).toBe(`${file}: splits.D1.entries.0.weight_bps: expected number, got string "all"`);
    expect(error.issues).toEqual([
      {
        path: "splits.D1.entries.0.weight_bps",
        code: "invalid-type",
        message: 'expected number, got string "all"',
      },
    ]);
    expect(error.hint).toMatch(/written by an env-pack handler/);
  });

  it("a splits.json of another schema is refused with schema-mismatch", async () => {
    const root = await testDir();
    await plant(root, "traffic", "splits.json", { schema: "greentic.local-process.splits.v9", splits: {} });
    const error = await rejection(new LocalProcessDeployer().runtimeConfig(contextFor(root)));
    expect([error.kind, error.issues.map((i) => [i.path, i.code])]).toEqual([
      "integrity",
      [["schema", "schema-mismatch"]],
    ]);
  });

  it("a process record without a pid is integrity, not a crash", async () => {
    const root = await testDir();
    await plant(root, "revisions/R1", "stage.json", {
      revision_id: "R1",
      deployment_id: "D1",
      bundle_id: "hello",
      bundle_digest: `sha256:${"0".repeat(64)}`,
      staged_at: "2026-01-01T00:00:00Z",
    });
    await plant(root, "processes", "R1.json", {
      revision_id: "R1",
      deployment_id: "D1",
      public_port: 8080,
      admin_port: null,
      started_at: "2026-01-01T00:00:00Z",
      log: "/tmp/x.log",
      runtime_bin: "/tmp/bin.js",
    });
    const error = await rejection(new LocalProcessDeployer().status(contextFor(root)));
    expect(error.kind).toBe("integrity");
    expect(error.issues.map((i) => [i.path, i.code])).toEqual([["pid", "missing-field"]]);
  });

  it("a router.json with a bad port is integrity when the router is read", async () => {
    const root = await testDir();
    await plant(root, "router", "router.json", {
      pid: 1,
      router_bin: "/x.js",
      state_dir: "/x",
      listen: "127.0.0.1:0",
      port: 70_000,
      started_at: "2026-01-01T00:00:00Z",
      log: "/x.log",
    });
    const error = await rejection(localRouterStatus(contextFor(root)));
    expect([error.kind, error.issues.map((i) => [i.path, i.code])]).toEqual(["integrity", [["port", "too-big"]]]);
  });
});
