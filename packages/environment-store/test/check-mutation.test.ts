import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";
import { LocalFsStore, type TransactOptions } from "../src/index.js";
import { create, rename, tempStore } from "./helpers.js";

// checkMutation is the pre-check callers run before a side effect outside the store: the same
// checks as transact (it shares the code), no commit, and no file written.

async function rejects(p: Promise<unknown>): Promise<GreenticError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(GreenticError);
    return error as GreenticError;
  }
  throw new Error("expected a rejection");
}

/** Digest of every entry under the store root (names, modes, contents): "nothing written" means equal. */
async function treeDigest(root: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const p = join(rel, name);
      const st = await lstat(join(root, p));
      if (st.isSymbolicLink()) h.update(`L ${p} ${await readlink(join(root, p))}\n`);
      else if (st.isDirectory()) {
        h.update(`D ${p} ${st.mode}\n`);
        await walk(p);
      } else h.update(`F ${p} ${st.mode}\n`).update(await readFile(join(root, p)));
    }
  };
  await walk("");
  return h.digest("hex");
}

async function storeWithEnv(options: Parameters<typeof tempStore>[0] = {}): Promise<LocalFsStore> {
  const store = await tempStore(options);
  await store.transact("e1", create("e1"), { noun: "env", verb: "create", create: true });
  return store;
}

const renameOptions = (extra: Partial<TransactOptions> = {}): TransactOptions => ({
  noun: "env",
  verb: "update",
  request: { name: "renamed" },
  ...extra,
});

describe("checkMutation", () => {
  it("proceeds with the current etag and generation, writing nothing", async () => {
    const store = await storeWithEnv();
    const loaded = await store.load("e1");
    const before = await treeDigest(store.root);
    const checked = await store.checkMutation(
      "e1",
      renameOptions({
        idempotencyKey: "k-new",
        precondition: { if_match: loaded.etag, expected_generation: loaded.generation },
      }),
    );
    expect(checked).toEqual({ status: "proceed", etag: loaded.etag, generation: loaded.generation });
    expect(await treeDigest(store.root)).toBe(before);
    expect(await store.listAudit("e1")).toHaveLength(1);
  });

  it("an unknown environment is not-found, unless the mutation creates it", async () => {
    const store = await storeWithEnv();
    expect((await rejects(store.checkMutation("ghost", renameOptions()))).kind).toBe("not-found");
    expect(await store.checkMutation("ghost", { noun: "env", verb: "create", create: true })).toEqual({
      status: "proceed",
      etag: undefined,
      generation: undefined,
    });
    expect(await store.exists("ghost")).toBe(false);
  });

  it("refuses bad options like transact does", async () => {
    const store = await storeWithEnv();
    expect((await rejects(store.checkMutation("e1", { noun: "", verb: "update" }))).kind).toBe("invalid-argument");
    expect((await rejects(store.checkMutation("e1", renameOptions({ idempotencyKey: "" })))).kind).toBe(
      "invalid-argument",
    );
    expect((await rejects(store.checkMutation("a/b", renameOptions()))).kind).toBe("invalid-argument");
  });

  it("a stale precondition is precondition-failed, and nothing is written", async () => {
    const store = await storeWithEnv();
    const { generation } = await store.load("e1");
    const before = await treeDigest(store.root);
    const stale = await rejects(
      store.checkMutation("e1", renameOptions({ precondition: { expected_generation: generation + 7 } })),
    );
    expect(stale.kind).toBe("precondition-failed");
    expect(stale.message).toContain(`expected generation ${generation + 7}`);
    expect(
      (await rejects(store.checkMutation("e1", renameOptions({ precondition: { if_match: "0".repeat(64) } })))).kind,
    ).toBe("precondition-failed");
    expect(await treeDigest(store.root)).toBe(before);
  });

  it("a used key with the same request is the recorded result; with another request idempotency-conflict", async () => {
    const store = await storeWithEnv();
    const pin = { expected_generation: (await store.load("e1")).generation };
    const applied = await store.transact(
      "e1",
      rename("renamed"),
      renameOptions({ idempotencyKey: "k1", precondition: pin }),
    );
    const before = await treeDigest(store.root);

    // The retry carries the pin it had before its own commit: the ledger answers first.
    const checked = await store.checkMutation<{ name: string }>(
      "e1",
      renameOptions({ idempotencyKey: "k1", precondition: pin }),
    );
    expect(checked.status).toBe("replay");
    if (checked.status !== "replay") return;
    expect(checked.replayed).toEqual({ ...applied, idempotency: "replayed" });
    // What transact itself answers for the same retry.
    expect(
      await store.transact("e1", rename("renamed"), renameOptions({ idempotencyKey: "k1", precondition: pin })),
    ).toEqual(checked.replayed);

    const conflict = await rejects(
      store.checkMutation("e1", renameOptions({ idempotencyKey: "k1", request: { name: "other" } })),
    );
    expect(conflict.kind).toBe("idempotency-conflict");
    expect(conflict.message).toContain('"k1"');
    const otherVerb = await rejects(
      store.checkMutation("e1", { noun: "env", verb: "destroy", idempotencyKey: "k1", request: { name: "renamed" } }),
    );
    expect(otherVerb.kind).toBe("idempotency-conflict");
    expect(await treeDigest(store.root)).toBe(before);
  });

  it("a key whose mutation committed on error replays that error", async () => {
    const store = await storeWithEnv();
    const failing = new GreenticError("conflict", "gate failed", { details: { code: "health-gate-failed" } });
    await rejects(
      store.transact(
        "e1",
        (current) => ({ environment: { ...current!, name: "failed" }, result: {}, error: failing }),
        renameOptions({ idempotencyKey: "k-err" }),
      ),
    );
    const replayed = await rejects(store.checkMutation("e1", renameOptions({ idempotencyKey: "k-err" })));
    expect(replayed.kind).toBe("conflict");
    expect(replayed.details).toMatchObject({ code: "health-gate-failed", idempotency: "replayed" });
  });

  it("a denied actor is unauthorized (the denial is audited) and gets no replay", async () => {
    const store = await storeWithEnv();
    await store.transact("e1", rename("renamed"), renameOptions({ idempotencyKey: "k1" }));
    const strict = new LocalFsStore({
      root: store.root,
      authorize: () => ({ decision: "deny", policy: "test", reason: "read-only day" }),
    });
    const denied = await rejects(strict.checkMutation("e1", renameOptions({ idempotencyKey: "k1" })));
    expect(denied.kind).toBe("unauthorized");
    const audit = await store.listAudit("e1");
    expect(audit.at(-1)).toMatchObject({
      noun: "env",
      verb: "update",
      result: { outcome: "error", kind: "unauthorized" },
    });
    expect((await store.load("e1")).environment.name).toBe("renamed");
  });

  it("is advisory: a writer that gets in after the check is still refused by transact", async () => {
    const store = await storeWithEnv();
    const pin = { expected_generation: (await store.load("e1")).generation };
    expect((await store.checkMutation("e1", renameOptions({ idempotencyKey: "mine", precondition: pin }))).status).toBe(
      "proceed",
    );
    // Another writer moves the environment on, and another one takes the key.
    await store.transact("e1", rename("someone else"), { noun: "env", verb: "update" });
    expect((await rejects(store.transact("e1", rename("renamed"), renameOptions({ precondition: pin })))).kind).toBe(
      "precondition-failed",
    );
    await store.transact("e1", rename("third"), renameOptions({ idempotencyKey: "mine", request: { name: "third" } }));
    expect(
      (await rejects(store.transact("e1", rename("renamed"), renameOptions({ idempotencyKey: "mine" })))).kind,
    ).toBe("idempotency-conflict");
    expect((await store.load("e1")).environment.name).toBe("third");
  });
});
