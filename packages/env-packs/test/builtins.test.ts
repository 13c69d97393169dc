import { lstat, readFile, stat, symlink, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import {
  devStoreSecretsHandler,
  inMemorySessionsHandler,
  inMemoryStateHandler,
  localRevocationHandler,
  stdoutTelemetryHandler,
} from "../src/index.js";
import { contextFor, testDir } from "./helpers.js";

async function rejection(fn: () => Promise<unknown>): Promise<GreenticError> {
  try {
    await fn();
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

const SECRET = "s3cr3t-value-that-must-not-leak";

describe("greentic.secrets.dev-store", () => {
  it("stores values in a 0600 file, lists keys only and reveals on request", async () => {
    const ctx = contextFor(await testDir());
    const secrets = devStoreSecretsHandler().secrets!;
    expect(await secrets.put(ctx, "db/password", SECRET)).toEqual({ key: "db/password", created: true });
    expect(await secrets.put(ctx, "db/password", SECRET)).toEqual({ key: "db/password", created: false });
    await secrets.put(ctx, "api-token", "t");
    const file = join(await ctx.dataDir("secrets"), "secrets.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await secrets.list(ctx)).toEqual(["api-token", "db/password"]);
    expect(await secrets.get(ctx, "db/password", { reveal: true })).toBe(SECRET);
    expect(JSON.stringify(ctx.events)).not.toContain(SECRET);
  });

  it("needs an explicit reveal and never puts values in errors", async () => {
    const ctx = contextFor(await testDir());
    const secrets = devStoreSecretsHandler().secrets!;
    await secrets.put(ctx, "k", SECRET);
    const noReveal = await rejection(() => secrets.get(ctx, "k", {} as { reveal: true }));
    expect(noReveal.kind).toBe("invalid-argument");
    const missing = await rejection(() => secrets.get(ctx, "nope", { reveal: true }));
    expect(missing.kind).toBe("not-found");
    const badKey = await rejection(() => secrets.put(ctx, "../escape", SECRET));
    expect(badKey.kind).toBe("invalid-argument");
    // A corrupted file must not be quoted back (it holds values).
    const file = join(await ctx.dataDir("secrets"), "secrets.json");
    await writeFile(file, `{"schema": "greentic.dev-secrets.v1", "secrets": {"k": "${SECRET}"`, { mode: 0o600 });
    const corrupt = await rejection(() => secrets.list(ctx));
    expect(corrupt.kind).toBe("integrity");
    for (const error of [noReveal, missing, badKey, corrupt]) {
      expect(JSON.stringify({ ...error.toJSON(), stack: error.stack })).not.toContain(SECRET);
    }
  });

  it("rotates with a random value or a given one, and deletes", async () => {
    const ctx = contextFor(await testDir());
    const secrets = devStoreSecretsHandler().secrets!;
    await secrets.put(ctx, "k", SECRET);
    await secrets.rotate(ctx, "k");
    const first = await secrets.get(ctx, "k", { reveal: true });
    expect(first).not.toBe(SECRET);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await secrets.rotate(ctx, "k");
    expect(await secrets.get(ctx, "k", { reveal: true })).not.toBe(first);
    await secrets.rotate(ctx, "k", { value: "given" });
    expect(await secrets.get(ctx, "k", { reveal: true })).toBe("given");
    expect((await rejection(() => secrets.rotate(ctx, "absent"))).kind).toBe("not-found");
    expect(await secrets.delete(ctx, "k")).toEqual({ key: "k", deleted: true });
    expect(await secrets.delete(ctx, "k")).toEqual({ key: "k", deleted: false });
    expect(await secrets.list(ctx)).toEqual([]);
  });

  it("refuses a symlinked secrets file and a file readable by others", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const secrets = devStoreSecretsHandler().secrets!;
    const file = join(await ctx.dataDir("secrets"), "secrets.json");
    const target = join(root, "elsewhere.json");
    await writeFile(target, "{}");
    await symlink(target, file);
    expect((await rejection(() => secrets.put(ctx, "k", SECRET))).kind).toBe("integrity");
    expect(await readFile(target, "utf8")).toBe("{}");
    expect((await lstat(file)).isSymbolicLink()).toBe(true);

    const ctx2 = contextFor(root, "other");
    await secrets.put(ctx2, "k", SECRET);
    await chmod(join(await ctx2.dataDir("secrets"), "secrets.json"), 0o644);
    const wide = await rejection(() => secrets.list(ctx2));
    expect(wide.kind).toBe("integrity");
    expect(wide.hint).toContain("chmod 600");
  });

  it("serializes concurrent writes without losing keys", async () => {
    const ctx = contextFor(await testDir());
    const secrets = devStoreSecretsHandler().secrets!;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => secrets.put(ctx, `key-${String(i).padStart(2, "0")}`, `v${i}`)),
    );
    expect(await secrets.list(ctx)).toHaveLength(20);
  });
});

describe("other built-ins", () => {
  it("telemetry.stdout writes one JSON line per event", async () => {
    const lines: string[] = [];
    const telemetry = stdoutTelemetryHandler({ stream: { write: (chunk: string) => lines.push(chunk) } }).telemetry!;
    await telemetry.emit(contextFor("/unused"), {
      name: "revision.warmed",
      at: "2026-01-01T00:00:00.000Z",
      attributes: { revision_id: "R1" },
    });
    expect(lines).toEqual([
      `${JSON.stringify({ at: "2026-01-01T00:00:00.000Z", env_id: "local", level: "info", name: "revision.warmed", attributes: { revision_id: "R1" } })}\n`,
    ]);
  });

  it("in-memory sessions and state are per environment and copy values", async () => {
    for (const store of [inMemorySessionsHandler().sessions!, inMemoryStateHandler().state!]) {
      const a = contextFor("/unused", "a");
      const b = contextFor("/unused", "b");
      const value = { n: 1 };
      await store.set(a, "user/1", value);
      value.n = 2;
      await store.set(a, "user/2", 2);
      await store.set(a, "other", 3);
      expect(await store.get(a, "user/1")).toEqual({ n: 1 });
      expect(await store.get(b, "user/1")).toBeUndefined();
      expect(await store.list(a, "user/")).toEqual(["user/1", "user/2"]);
      expect(await store.delete(a, "user/1")).toBe(true);
      expect(await store.delete(a, "user/1")).toBe(false);
    }
  });

  it("revocation.local keeps a persistent list in the data dir", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const entry = await localRevocationHandler().revocation!.revoke(ctx, "key-1", "leaked");
    expect(entry).toMatchObject({ subject: "key-1", reason: "leaked" });
    // A fresh handler instance (a new CLI process) sees the same list.
    const again = localRevocationHandler().revocation!;
    expect(await again.isRevoked(ctx, "key-1")).toBe(true);
    expect(await again.isRevoked(ctx, "key-2")).toBe(false);
    expect(await again.revoke(ctx, "key-1")).toEqual(entry);
    expect(await again.list(ctx)).toHaveLength(1);
    expect((await rejection(() => again.revoke(ctx, " "))).kind).toBe("invalid-argument");
  });
});
