import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { HandlerRecordSchema, parseStored, SingleVmStateSchema, STATE_SCHEMA } from "./documents.js";

const digest = `sha256:${"a".repeat(64)}`;
const state = {
  schema: STATE_SCHEMA,
  deployment: "acme",
  mode: "native",
  specDigest: "x",
  bundleDigest: digest,
  unitHashes: { "/etc/systemd/system/greentic-acme.service": "h" },
  lastResult: { action: "apply", ok: true, at: "2026-01-01T00:00:00Z" },
};

function thrown(fn: () => unknown): GreenticError {
  try {
    fn();
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

describe("stored single-VM documents", () => {
  it("reads a valid state, keeping fields a later version adds, and null for no file", () => {
    expect(parseStored("state.json", JSON.stringify({ ...state, extra: 1 }), SingleVmStateSchema, "h")).toEqual({
      ...state,
      extra: 1,
    });
    expect(parseStored("state.json", null, SingleVmStateSchema, "h")).toBeNull();
  });

  it("refuses a damaged state with integrity, the file, the field and a kebab-case code", () => {
    const bad = { ...state, bundleDigest: "md5:1", mode: "vm" };
    const error = thrown(() =>
      parseStored("/var/lib/greentic/acme/state.json", JSON.stringify(bad), SingleVmStateSchema, "apply again"),
    );
    expect(error.kind).toBe("integrity");
    expect(error.message).toBe(
      '/var/lib/greentic/acme/state.json: mode: "vm" is not one of "native", "container" (+1 more issue)',
    );
    expect(error.issues.map((i) => [i.path, i.code])).toEqual([
      ["mode", "invalid-value"],
      ["bundleDigest", "invalid-format"],
    ]);
    expect(error.hint).toBe("apply again");
    const notJson = thrown(() => parseStored("state.json", "{", SingleVmStateSchema, "apply again"));
    expect([notJson.kind, notJson.path]).toEqual(["integrity", "state.json"]);
    expect(notJson.message).toMatch(/^state\.json is not valid JSON: /);
  });

  it("refuses a handler record of another schema", () => {
    const record = { schema: "greentic.single-vm-deployer.v0", staged: {}, archived: {}, active: null, split: null };
    const error = thrown(() => parseStored("rec.json", JSON.stringify(record), HandlerRecordSchema, "h"));
    expect([error.kind, error.issues.map((i) => [i.path, i.code])]).toEqual([
      "integrity",
      [["schema", "schema-mismatch"]],
    ]);
  });
});

describe("saved plans", () => {
  it("a plan whose actions were edited is refused (validation, naming the field), before its spec is read", async () => {
    const { mkdtemp, rm, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadPlan, PLAN_SCHEMA } = await import("./plan.js");
    const dir = await mkdtemp(join(tmpdir(), "gt-plan-"));
    try {
      const file = join(dir, "plan.json");
      const plan = {
        schema: PLAN_SCHEMA,
        deployment: "acme",
        mode: "native",
        spec: {},
        specDigest: "s",
        bundleDigest: digest,
        observedFingerprint: "f",
        pinnedBundle: false,
        actions: [{ action: "format", resource: "dir", target: "/", reason: "r" }],
        changes: true,
        exitCode: 2,
        summary: "1 change",
      };
      await writeFile(file, JSON.stringify(plan));
      const error = await loadPlan(file).then(
        () => undefined,
        (e: unknown) => e as GreenticError,
      );
      expect(error?.kind).toBe("validation");
      expect(error?.issues.map((i) => [i.path, i.code])).toEqual([["actions.0.action", "invalid-value"]]);
      expect(error?.message).toMatch(new RegExp(`^${file}: actions\\.0\\.action: "format" is not one of`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
