import { spawnSync } from "node:child_process";
import { mkdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { GreenticError, sha256Hex } from "@greentic/deploy-spec";
import type { LocalFsStore } from "../src/index.js";
import { create, rename, tempStore } from "./helpers.js";

async function rejects(p: Promise<unknown>): Promise<GreenticError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(GreenticError);
    return error as GreenticError;
  }
  throw new Error("expected a rejection");
}

async function seeded(): Promise<LocalFsStore> {
  const store = await tempStore();
  await store.transact("e", create("e"), { noun: "env", verb: "create", create: true });
  for (const name of ["one", "two"]) await store.transact("e", rename(name), { noun: "env", verb: "update" });
  return store;
}

describe("corruption is detected on load and repaired by restore", () => {
  const cases: [string, (file: string) => Promise<void>, RegExp][] = [
    ["a truncated file", (f) => truncate(f, 40), /environment\.json: not valid JSON/],
    ["invalid JSON", (f) => writeFile(f, '{"schema": nope}\n'), /environment\.json: not valid JSON/],
    [
      "a field edited to break a cross-reference",
      async (f) => {
        const doc = JSON.parse(await readFile(f, "utf8"));
        doc.host_config.env_id = "other";
        await writeFile(f, JSON.stringify(doc));
      },
      /environment\.json: host_config\.env_id/,
    ],
  ];
  it.each(cases)("%s", async (_name, corrupt, message) => {
    const store = await seeded();
    const file = join(store.root, "e", "environment.json");
    await corrupt(file);
    const err = await rejects(store.load("e"));
    expect(err.kind).toBe("integrity");
    expect(err.message).toMatch(message);
    expect(err.path).toBe(file);
    const newest = (await store.listBackups("e")).find((b) => b.file === "environment.json" && b.valid)!;
    expect(newest.generation).toBe(2);
    expect(err.details?.newest_valid_backup).toBe(newest.backup_id);
    expect(err.hint).toContain(newest.backup_id);
    // Mutations refuse to build on a corrupt document.
    expect((await rejects(store.transact("e", rename("x"), { noun: "env", verb: "update" }))).kind).toBe("integrity");
    expect((await store.list())[0]).toMatchObject({ environment_id: "e", status: "integrity" });
    // Restore needs a precondition, and a matching one.
    expect((await rejects(store.restore("e", newest.backup_id, {}))).kind).toBe("precondition-failed");
    expect((await rejects(store.restore("e", newest.backup_id, { if_match: "0".repeat(64) }))).kind).toBe(
      "precondition-failed",
    );
    const restored = await store.restore("e", newest.backup_id, { if_match: err.details!.etag as string });
    expect(restored.generation).toBe(4);
    const loaded = await store.load("e");
    expect([loaded.environment.name, loaded.generation, loaded.etag]).toEqual(["one", 4, restored.etag]);
    expect(restored.audit).toMatchObject({
      noun: "env",
      verb: "restore",
      new_generation: 4,
      target: { backup_id: newest.backup_id, file: "environment.json" },
    });
    expect(await store.verifyAudit("e")).toEqual({ ok: true, lines: 4 });
    // The corrupt version itself was kept as a (invalid) backup.
    expect((await store.listBackups("e")).filter((b) => !b.valid)).toHaveLength(1);
  });

  it("restore refuses malformed ids, missing and invalid backups, and derived files", async () => {
    const store = await seeded();
    const { etag } = await store.load("e");
    expect((await rejects(store.restore("e", "../../etc/passwd", { if_match: etag }))).kind).toBe("invalid-argument");
    expect(
      (await rejects(store.restore("e", "environment.json.20260101T000000.000000000Z.bak", { if_match: etag }))).kind,
    ).toBe("not-found");
    expect(
      (await rejects(store.restore("e", "runtime-config.json.20260101T000000.000000000Z.bak", { if_match: etag })))
        .kind,
    ).toBe("invalid-argument");
    const bad = "environment.json.20260101T000000.000000000Z.bak";
    await writeFile(join(store.root, "e", "backups", bad), "{}");
    const err = await rejects(store.restore("e", bad, { if_match: etag }));
    expect(err.kind).toBe("integrity");
    expect(err.message).toContain(`backup ${bad}`);
    expect((await store.load("e")).etag).toBe(etag);
  });

  it("a corrupt runtime.json is an integrity error", async () => {
    const store = await seeded();
    await writeFile(
      join(store.root, "e", "runtime.json"),
      JSON.stringify({ schema: "greentic.environment-runtime.v1", environment_id: "x" }),
    );
    const err = await rejects(store.load("e"));
    expect(err.kind).toBe("integrity");
    expect(err.message).toContain("runtime.json");
  });
});

describe("audit hash chain", () => {
  async function lines(store: LocalFsStore): Promise<string[]> {
    return (await readFile(join(store.root, "e", "audit", "events.jsonl"), "utf8")).trimEnd().split("\n");
  }
  async function write(store: LocalFsStore, ls: string[]): Promise<void> {
    await writeFile(join(store.root, "e", "audit", "events.jsonl"), `${ls.join("\n")}\n`);
  }
  async function five(): Promise<LocalFsStore> {
    const store = await seeded();
    for (const name of ["three", "four"]) await store.transact("e", rename(name), { noun: "env", verb: "update" });
    return store;
  }

  it("chains every line to the previous one", async () => {
    const store = await five();
    const ls = await lines(store);
    expect(ls).toHaveLength(5);
    for (let i = 1; i < ls.length; i++) expect(JSON.parse(ls[i]!).prev_hash).toBe(sha256Hex(ls[i - 1]!));
    expect(await store.verifyAudit("e")).toEqual({ ok: true, lines: 5 });
  });

  it("detects a deleted line, and refuses to append after a deleted tail", async () => {
    const store = await five();
    const ls = await lines(store);
    await write(store, [ls[0]!, ls[1]!, ls[3]!, ls[4]!]);
    expect(await store.verifyAudit("e")).toEqual({
      ok: false,
      lines: 4,
      line: 3,
      reason: "line 3 follows generation 2 but starts from 3: lines were deleted before it",
    });
    await write(store, ls.slice(0, 4));
    expect(await store.verifyAudit("e")).toEqual({
      ok: false,
      lines: 4,
      line: 5,
      reason: "head.json records 5 events but the file has 4: lines were deleted from the end",
    });
    const err = await rejects(store.transact("e", rename("x"), { noun: "env", verb: "update" }));
    expect(err.kind).toBe("integrity");
    expect(err.message).toContain("the last line does not match head.json");
    expect((await store.load("e")).generation).toBe(5);
  });

  it("detects edited, inserted and reordered lines", async () => {
    const store = await five();
    const ls = await lines(store);
    await write(store, [ls[0]!, ls[1]!.replace('"verb":"update"', '"verb":"updatf"'), ...ls.slice(2)]);
    expect(await store.verifyAudit("e")).toMatchObject({
      ok: false,
      line: 2,
      reason: expect.stringContaining("edited"),
    });
    await write(store, [ls[0]!, ls[1]!, ls[1]!, ...ls.slice(2)]);
    expect(await store.verifyAudit("e")).toMatchObject({
      ok: false,
      line: 3,
      reason: "line 3 does not belong in the chain: it was inserted",
    });
    await write(store, [ls[0]!, ls[2]!, ls[1]!, ...ls.slice(3)]);
    expect(await store.verifyAudit("e")).toMatchObject({
      ok: false,
      line: 2,
      reason: "line 2 chains to line 3, not to line 1: lines were reordered",
    });
    await write(store, [ls[0]!, "{not json", ...ls.slice(2)]);
    expect(await store.verifyAudit("e")).toMatchObject({
      ok: false,
      line: 2,
      reason: "line 2 is not valid JSON: it was edited or torn",
    });
    await write(store, ls);
    expect(await store.verifyAudit("e")).toEqual({ ok: true, lines: 5 });
  });

  it("drops a torn final line (crash mid-append) and keeps chaining", async () => {
    const store = await five();
    await writeFile(join(store.root, "e", "audit", "events.jsonl"), '{"schema":"greentic.au', { flag: "a" });
    await store.transact("e", rename("six"), { noun: "env", verb: "update" });
    expect(await store.verifyAudit("e")).toEqual({ ok: true, lines: 6 });
  });

  it("filters events by noun, verb, actor and time, newest first when limited", async () => {
    const store = await five();
    await store.transact("e", rename("bob's"), {
      noun: "traffic",
      verb: "set",
      actor: { kind: "local-user", user: "bob", uid: 7 },
    });
    expect((await store.listAudit("e", { noun: "traffic" })).map((e) => e.actor.user)).toEqual(["bob"]);
    expect((await store.listAudit("e", { actor: "bob" })).length).toBe(1);
    expect((await store.listAudit("e", { verb: "update", limit: 2 })).map((e) => e.new_generation)).toEqual([4, 5]);
    expect(await store.listAudit("e", { since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect((await store.listAudit("e", { since: "2000-01-01T00:00:00Z" })).length).toBe(6);
    expect((await rejects(store.listAudit("e", { limit: 0 }))).kind).toBe("invalid-argument");
  });
});

describe("an unwritable audit log", () => {
  it("fails the committed mutation with `audit`, keeps a consistent state, and appends the event once writable", async () => {
    const store = await seeded();
    const audit = join(store.root, "e", "audit");
    // Root ignores chmod, so use the immutable attribute when the file system supports it;
    // otherwise replace the log file with a directory, which no append can write to.
    const immutable = spawnSync("chattr", ["+i", join(audit, "events.jsonl"), audit]).status === 0;
    const undo = async (): Promise<void> => {
      if (immutable) spawnSync("chattr", ["-i", join(audit, "events.jsonl"), audit]);
      else {
        await rm(join(audit, "events.jsonl"), { recursive: true });
        await writeFile(join(audit, "events.jsonl"), saved);
      }
    };
    const saved = await readFile(join(audit, "events.jsonl"));
    if (!immutable) {
      await rm(join(audit, "events.jsonl"));
      await mkdir(join(audit, "events.jsonl"));
    }
    onTestFinished(undo);
    const err = await rejects(store.transact("e", rename("blocked"), { noun: "env", verb: "update" }));
    expect(err.kind).toBe("audit");
    expect(err.message).toContain("the change committed (generation 4) but its audit event could not be written");
    expect(err.details).toMatchObject({ committed: true, generation: 4 });
    // Consistent: the committed change is in effect; further mutations are refused until the log is fixed.
    expect((await store.load("e")).environment.name).toBe("blocked");
    const next = await rejects(store.transact("e", rename("later"), { noun: "env", verb: "update" }));
    expect([next.kind, next.message.includes("still missing")]).toEqual(["audit", true]);
    expect((await store.load("e")).generation).toBe(4);
    await undo();
    await store.transact("e", rename("later"), { noun: "env", verb: "update" });
    const events = await store.listAudit("e");
    expect(events.map((e) => e.new_generation)).toEqual([1, 2, 3, 4, 5]);
    expect(await store.verifyAudit("e")).toEqual({ ok: true, lines: 5 });
  });
});
