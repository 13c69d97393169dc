import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";
import { LocalFsStore } from "../src/index.js";
import { create, rename, tempRoot } from "./helpers.js";

// A writer paused at its commit point while another process takes its stale lock. The pause is
// real as far as the lock can tell: the other writer runs as a separate process (the store
// worker, on the built package) inside a synchronous spawn, so this process's event loop is
// blocked for the whole time and refreshes nothing, exactly as a stopped process would. The
// hooks run right before or right after the commit record is linked (publishRecord).
const hooks: { before?: (() => void) | undefined; after?: (() => void) | undefined } = {};
vi.mock("../src/commit-record.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../src/commit-record.js")>();
  return {
    ...original,
    publishRecord: async (...args: Parameters<typeof original.publishRecord>) => {
      const before = hooks.before;
      hooks.before = undefined;
      before?.();
      const linked = await original.publishRecord(...args);
      const after = hooks.after;
      hooks.after = undefined;
      after?.();
      return linked;
    },
  };
});
afterEach(() => {
  hooks.before = undefined;
  hooks.after = undefined;
});

const STALE_MS = 2000;
const pkgDir = join(import.meta.dirname, "..");
const worker = join(pkgDir, "test/fixtures/store-worker.ts");

/** The paused writer's stale period passes (its lock's mtime goes back), then another process commits `count` times. */
function otherProcessCommits(root: string, count: number): void {
  const lock = join(root, ".locks", "local.lock");
  const then = (Date.now() - STALE_MS - 1_000) / 1000;
  utimesSync(lock, then, then);
  const r = spawnSync(process.execPath, [worker, "mutate", root, "local", String(count), String(STALE_MS)], {
    cwd: pkgDir,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.trim().split("\n")).toHaveLength(count);
}

const records = (root: string) => readdirSync(join(root, "local", "commits")).filter((n) => n.endsWith(".json"));

describe("a writer overtaken at its commit point", () => {
  it("paused right after linking its record, rolled forward and built on by another process: committed, and the record kept", async () => {
    const root = await tempRoot();
    const store = new LocalFsStore({ root, lockStaleMs: STALE_MS, lockTimeoutMs: 20_000 });
    await store.transact("local", create("local"), { create: true, noun: "env", verb: "create", request: {} });
    hooks.after = () => otherProcessCommits(root, 1);

    const paused = await store.transact("local", rename("paused"), {
      noun: "env",
      verb: "update",
      idempotencyKey: "paused-key",
      request: { name: "paused" },
    });

    expect([paused.generation, paused.idempotency, paused.result]).toEqual([2, "applied", { name: "paused" }]);
    expect(paused.audit.new_generation).toBe(2);
    // The newer generation is the other writer's, on top of this one: nothing of it was overwritten.
    const loaded = await store.load("local");
    expect(loaded.generation).toBe(3);
    expect(loaded.environment.name).toMatch(/^p\d+-0$/);
    expect(records(root)).toEqual(["000000000001.json", "000000000002.json", "000000000003.json"]);
    const events = await store.listAudit("local");
    expect(events.map((e) => [e.new_generation, e.idempotency_key])).toEqual([
      [1, undefined],
      [2, "paused-key"],
      [3, undefined],
    ]);
    expect(events[1]!.event_id).toBe(paused.audit.event_id);
    expect(await store.verifyAudit("local")).toMatchObject({ ok: true });
    // The retry with the same key replays the committed change.
    const retry = await store.transact("local", rename("paused"), {
      noun: "env",
      verb: "update",
      idempotencyKey: "paused-key",
      request: { name: "paused" },
    });
    expect([retry.idempotency, retry.generation]).toEqual(["replayed", 2]);
    expect((await store.load("local")).generation).toBe(3);
  }, 60_000);

  it("paused right before linking while the other process commits past the records kept: the late record is withdrawn, not committed", async () => {
    const root = await tempRoot();
    const store = new LocalFsStore({ root, lockStaleMs: STALE_MS, lockTimeoutMs: 20_000 });
    await store.transact("local", create("local"), { create: true, noun: "env", verb: "create", request: {} });
    // 17 commits (generations 2..18): the 16 records kept are 3..18, so generation 2's name is free again.
    hooks.before = () => otherProcessCommits(root, 17);

    let error: unknown;
    await store
      .transact("local", rename("late"), { noun: "env", verb: "update", request: { name: "late" } })
      .catch((e: unknown) => (error = e));

    expect(error).toBeInstanceOf(GreenticError);
    expect((error as GreenticError).kind).toBe("locked");
    expect((error as GreenticError).message).toBe(
      "lost the lock on environment local: generation 2 was overtaken (commits/ holds 18); this change was not committed",
    );
    expect((error as GreenticError).details).toEqual({ committed: false, generation: 2 });
    expect(existsSync(join(root, "local", "commits", "000000000002.json"))).toBe(false);
    expect(records(root)).toHaveLength(16);
    const loaded = await store.load("local");
    expect(loaded.generation).toBe(18);
    expect(loaded.environment.name).not.toBe("late");
    const gens = (await store.listAudit("local")).map((e) => e.new_generation);
    expect(gens).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(await store.verifyAudit("local")).toMatchObject({ ok: true });
  }, 120_000);
});
