import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GreenticError } from "@greentic/deploy-spec";
import { envDoc, tempRoot, tempStore } from "./helpers.js";

const binding = (slot: string, name: string) => ({
  slot,
  kind: `greentic.${slot}.${name}@0.1.0`,
  pack_ref: `greentic.${slot}.${name}@0.1.0`,
  generation: 0,
});

describe("migrateDev", () => {
  it("check reports findings; apply merges missing bindings, copies answers, renames dev aside; idempotent after", async () => {
    const store = await tempStore();
    const dev = { ...envDoc("dev"), packs: [binding("deployer", "dev-proc"), binding("secrets", "dev-store")] };
    await store.transact(
      "dev",
      (_c, ctx) => {
        ctx.setPackAnswers("secrets", { path: "x" });
        return { environment: dev as never, result: null };
      },
      { noun: "env", verb: "create", create: true },
    );
    const local = { ...envDoc("local"), packs: [binding("deployer", "local-proc")] };
    await store.transact("local", () => ({ environment: local as never, result: null }), {
      noun: "env",
      verb: "create",
      create: true,
    });

    const check = await store.migrateDev("local", { mode: "check" });
    expect(check).toMatchObject({ from_env: "dev", to_env: "local", clean: true });
    expect(check.findings.map((f) => [f.kind, f.severity])).toContainEqual(["legacy-env-simple", "info"]);

    const applied = await store.migrateDev("local", { mode: "apply" });
    expect(applied).toMatchObject({
      from_env: "dev",
      to_env: "local",
      merged_slots: ["secrets"],
      merged_extensions: [],
    });
    expect(applied.legacy_dir_renamed_to).toMatch(/^\.dev-migrated-\d{8}T\d{9}Z$/);
    const after = await store.load("local");
    expect(after.environment.packs.map((p) => p.kind)).toEqual([
      "greentic.deployer.local-proc@0.1.0",
      "greentic.secrets.dev-store@0.1.0",
    ]);
    expect(await store.loadPackAnswers("local", "secrets")).toEqual({ path: "x" });
    expect((await store.list()).map((e) => e.environment_id)).toEqual(["local"]);
    expect((await store.listAudit("local", { verb: "migrate-dev" })).length).toBe(1);
    expect(await store.migrateDev("local", { mode: "apply" })).toEqual({
      from_env: "dev",
      to_env: "local",
      merged_slots: [],
      merged_extensions: [],
    });
  });

  it("a complex dev env blocks apply with conflict; a dev target and a bad mode are invalid", async () => {
    const store = await tempStore();
    await mkdir(join(store.root, "dev"), { recursive: true });
    await writeFile(join(store.root, "dev", "environment.json"), "{broken");
    const check = await store.migrateDev("local", { mode: "check" });
    expect(check.clean).toBe(false);
    expect(check.findings[0]).toMatchObject({ kind: "legacy-env-unreadable", severity: "blocking" });
    const err = (await store.migrateDev("local", { mode: "apply" }).catch((e: unknown) => e)) as GreenticError;
    expect(err.kind).toBe("conflict");
    expect(err.message).toContain("legacy-env-unreadable");
    expect(await store.exists("local")).toBe(false);
    expect(((await store.migrateDev("dev", { mode: "check" }).catch((e: unknown) => e)) as GreenticError).kind).toBe(
      "invalid-argument",
    );
    expect(
      ((await store.migrateDev("local", { mode: "both" as never }).catch((e: unknown) => e)) as GreenticError).kind,
    ).toBe("invalid-argument");
  });
});

describe("migrateState", () => {
  it("check counts the legacy tree; apply renames it aside and audits; non-directory blocks", async () => {
    const store = await tempStore();
    const stateDir = await tempRoot();
    expect(await store.migrateState("local", { mode: "check", stateDir })).toEqual({
      env_id: "local",
      state_dir: stateDir,
      clean: true,
      leaf_count: 0,
      findings: [],
    });
    await mkdir(join(stateDir, "deploy", "a", "b"), { recursive: true });
    await writeFile(join(stateDir, "deploy", "a", "one"), "1");
    await writeFile(join(stateDir, "deploy", "a", "b", "two"), "2");
    const check = await store.migrateState("local", { mode: "check", stateDir });
    expect(check).toMatchObject({
      clean: true,
      leaf_count: 2,
      findings: [{ kind: "legacy-deploy-tree", severity: "info" }],
    });
    const applied = await store.migrateState("local", { mode: "apply", stateDir });
    expect(applied).toMatchObject({ env_id: "local", state_dir: stateDir, scanned_paths_count: 2 });
    expect((await readdir(stateDir)).sort()).toEqual([applied.legacy_dir_renamed_to]);
    expect((await store.listAudit("local"))[0]).toMatchObject({
      noun: "env",
      verb: "migrate-state",
      target: { state_dir: stateDir, leaf_count: 2 },
    });
    await writeFile(join(stateDir, "deploy"), "not a dir");
    const blocked = await store.migrateState("local", { mode: "check", stateDir });
    expect(blocked).toMatchObject({
      clean: false,
      findings: [{ kind: "legacy-deploy-unreadable", severity: "blocking" }],
    });
    expect(
      ((await store.migrateState("local", { mode: "apply", stateDir }).catch((e: unknown) => e)) as GreenticError).kind,
    ).toBe("conflict");
  });
});
