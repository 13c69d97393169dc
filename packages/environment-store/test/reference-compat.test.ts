import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";
import { create, tempRoot } from "./helpers.js";
import { LocalFsStore } from "../src/index.js";

async function storeAt(root: string): Promise<LocalFsStore> {
  return new LocalFsStore({ root, lockStaleMs: 2000, lockTimeoutMs: 20_000 });
}

describe("environment ids in the store (greentic-types EnvId charset)", () => {
  it("skips directories whose names are not environment ids and refuses to load them", async () => {
    const root = await tempRoot();
    const store = await storeAt(root);
    await store.transact("local", create("local"), { create: true, noun: "env", verb: "create" });
    for (const name of ["prod@eu", "préprod", "a+b"]) {
      await cp(join(root, "local"), join(root, name), { recursive: true });
      const file = join(root, name, "environment.json");
      await writeFile(file, (await readFile(file, "utf8")).replaceAll('"local"', JSON.stringify(name)));
    }
    await mkdir(join(root, "ok.dir_1-x"));
    expect((await store.list()).map((e) => e.environment_id)).toEqual(["local"]);
    for (const name of ["prod@eu", "préprod", "a+b"]) {
      const error = await store.load(name).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GreenticError);
      expect((error as GreenticError).kind).toBe("invalid-argument");
      expect((error as GreenticError).message).toContain(`only ASCII letters, digits, ".", "_" and "-" are allowed`);
    }
  });
});

const NOW = "2026-07-01T12:00:00Z";

/** An environment.json as the reference writes it: pretty JSON, no `generation`, every Vec present. */
function referenceEnvironment(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: "greentic.environment.v1",
    environment_id: "shared",
    name: "shared",
    host_config: { env_id: "shared", listen_addr: "127.0.0.1:8080" },
    packs: [
      {
        slot: "deployer",
        kind: "greentic.deployer.local-process@0.1.0",
        pack_ref: "greentic.deployer.local-process@0.1.0",
        generation: 0,
      },
    ],
    bundles: [],
    revisions: [],
    traffic_splits: [],
    messaging_endpoints: [],
    extensions: [],
    revocation: { required: false },
    retention: {},
    health: { state: "unknown" },
    ...extra,
  };
}

let eventNo = 0;
/** One audit line as the reference appends it: compact JSON, no `prev_hash`. */
function referenceAuditLine(verb: string): string {
  eventNo += 1;
  return `${JSON.stringify({
    schema: "greentic.audit.event.v1",
    event_id: `01JTKW5B4W4Q5Y1CQW93F7S${String(eventNo).padStart(3, "0")}`,
    ts: NOW,
    actor: { kind: "local-user", user: "ref", uid: 1000 },
    env_id: "shared",
    noun: "env",
    verb,
    target: { environment_id: "shared" },
    authorization: {
      decision: "allow",
      policy: "local-owner",
      reason: "named env authorized by local store ownership",
    },
    result: { outcome: "ok" },
  })}\n`;
}

async function referenceWrites(root: string, doc: Record<string, unknown>, verbs: string[]): Promise<void> {
  const dir = join(root, "shared");
  await mkdir(join(dir, "audit"), { recursive: true });
  await writeFile(join(dir, "environment.json"), `${JSON.stringify(doc, null, 2)}\n`);
  const log = join(dir, "audit", "events.jsonl");
  const before = await readFile(log, "utf8").catch(() => "");
  await writeFile(log, before + verbs.map(referenceAuditLine).join(""));
}

const rename = (name: string) => (current: Parameters<Parameters<LocalFsStore["transact"]>[1]>[0]) => ({
  environment: { ...current!, name },
  result: { name },
});

describe("an environment directory the reference wrote", () => {
  it("loads, mutates and verifies; its audit lines are named as unchained", async () => {
    const root = await tempRoot();
    await referenceWrites(root, referenceEnvironment(), ["create", "init"]);
    await writeFile(join(root, "shared", ".lock"), "");
    const store = await storeAt(root);
    const loaded = await store.load("shared");
    expect([loaded.generation, loaded.environment.name]).toEqual([0, "shared"]);
    const r = await store.transact("shared", rename("renamed"), { noun: "env", verb: "update" });
    expect(r.generation).toBe(1);
    expect((await store.load("shared")).environment.name).toBe("renamed");
    expect(await store.verifyAudit("shared")).toEqual({ ok: true, lines: 3, unchained: [2] });
  });
});

describe("a foreign write on top of ours (the reference re-saves and audits)", () => {
  it("is accepted with a generation that keeps increasing; its new field survives our next mutation", async () => {
    const root = await tempRoot();
    const store = await storeAt(root);
    await store.transact(
      "shared",
      (current) => {
        if (current) throw new Error("exists");
        return { environment: referenceEnvironment() as never, result: null };
      },
      { create: true, noun: "env", verb: "create" },
    );
    await store.transact("shared", rename("ours"), { noun: "env", verb: "update" });
    expect((await store.load("shared")).generation).toBe(2);

    // The reference drops our `generation` (it does not know it), adds a field of a newer
    // schema, and appends one audit line per mutation, without prev_hash.
    await referenceWrites(root, referenceEnvironment({ name: "theirs", added_by_newer_reference: { v: [1, null] } }), [
      "update",
      "set-public-url",
    ]);
    const loaded = await store.load("shared");
    expect(loaded.generation).toBe(4);
    expect(loaded.environment.name).toBe("theirs");
    expect((loaded.environment as Record<string, unknown>).added_by_newer_reference).toEqual({ v: [1, null] });

    const r = await store.transact("shared", rename("ours-again"), {
      noun: "env",
      verb: "update",
      precondition: { expected_generation: 4 },
    });
    expect(r.generation).toBe(5);
    const after = await store.load("shared");
    expect(after.generation).toBe(5);
    expect((after.environment as Record<string, unknown>).added_by_newer_reference).toEqual({ v: [1, null] });
    const onDisk = JSON.parse(await readFile(join(root, "shared", "environment.json"), "utf8"));
    expect([onDisk.generation, onDisk.added_by_newer_reference]).toEqual([5, { v: [1, null] }]);
    expect(await store.verifyAudit("shared")).toEqual({ ok: true, lines: 5, unchained: [3, 4] });
  });

  it("a hand edit without the reference's audit line is still reported as tampering", async () => {
    const root = await tempRoot();
    const store = await storeAt(root);
    await store.transact(
      "shared",
      (current) => {
        if (current) throw new Error("exists");
        return { environment: referenceEnvironment() as never, result: null };
      },
      { create: true, noun: "env", verb: "create" },
    );
    const file = join(root, "shared", "environment.json");
    await writeFile(file, (await readFile(file, "utf8")).replace('"name": "shared"', '"name": "edited"'));
    const error = await store.load("shared").catch((e: unknown) => e);
    expect((error as GreenticError).kind).toBe("integrity");
    expect((error as GreenticError).message).toContain("it was changed outside the store");
  });

  it("an audit line the reference appended without changing the document does not lock the environment", async () => {
    const root = await tempRoot();
    const store = await storeAt(root);
    await store.transact(
      "shared",
      (current) => {
        if (current) throw new Error("exists");
        return { environment: referenceEnvironment() as never, result: null };
      },
      { create: true, noun: "env", verb: "create" },
    );
    const log = join(root, "shared", "audit", "events.jsonl");
    await writeFile(log, (await readFile(log, "utf8")) + referenceAuditLine("doctor"));
    expect(await store.verifyAudit("shared")).toEqual({ ok: true, lines: 2, unchained: [2] });
    const r = await store.transact("shared", rename("next"), { noun: "env", verb: "update" });
    expect(r.generation).toBe(2);
    expect(await store.verifyAudit("shared")).toEqual({ ok: true, lines: 3, unchained: [2] });
    // An unchained line slipped in between two chained ones is caught: the next line does not hash it.
    await store.transact("shared", rename("last"), { noun: "env", verb: "update" });
    const lines = (await readFile(log, "utf8")).trimEnd().split("\n");
    await writeFile(log, `${[...lines.slice(0, 3), referenceAuditLine("forged").trimEnd(), lines[3]].join("\n")}\n`);
    const verdict = await store.verifyAudit("shared");
    expect(verdict).toMatchObject({ ok: false, line: 5 });
  });
});
