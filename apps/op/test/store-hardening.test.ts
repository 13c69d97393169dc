import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digestTree, ensureBuilt, store, type Store } from "./helpers.js";

ensureBuilt();

// Issue 17 through the real `op` binary: a store that cannot be silently emptied, rolled back
// or wedged, odd files that never hang, damaged ledger entries, force-unlock of a live holder,
// secrets names that are only names.

function initWithHistory(s: Store, updates = 3): void {
  s.ok(["env", "init"]);
  for (let i = 0; i < updates; i++) s.ok(["config", "set", "local", "--region", `r${i}`]);
}

function fails(s: Store, args: string[], exit: number, kind: string) {
  const r = s.op([...args, "--json"]);
  expect(r.status, `op ${args.join(" ")}: ${r.stderr}`).toBe(exit);
  expect(r.errorJson?.error?.kind, r.stderr).toBe(kind);
  return r.errorJson.error as {
    kind: string;
    message: string;
    hint?: string;
    path?: string;
    issues?: { path: string; code: string }[];
  };
}

describe("losses that must not go unnoticed", () => {
  it("a deleted environment.json is integrity naming the newest valid backup; create refuses; restore works", () => {
    const s = store();
    initWithHistory(s); // generation 4
    rmSync(join(s.root, "local", "environment.json"));
    const shown = fails(s, ["env", "show", "local"], 1, "integrity");
    expect(shown.message).toContain("is missing, but generation 4 was committed");
    const backup = /op env restore local (\S+) --expected-generation 4/.exec(shown.hint ?? "")?.[1];
    expect(backup, shown.hint).toMatch(/^environment\.json\.\d{8}T\d{6}\.\d{9}Z(\.\d+)?\.bak$/);
    fails(s, ["env", "create", "local"], 1, "integrity");
    const restored = s.ok(["env", "restore", "local", backup!, "--expected-generation", "4"]);
    expect(restored.generation).toBe(5);
    expect(s.ok(["env", "show", "local"]).environment.host_config.region).toBe("r1");
    expect(s.ok(["audit", "verify", "local"])).toMatchObject({ ok: true });
  });

  it("a valid-looking hand edit (generation 4 rolled back to 1) is integrity, and mutations refuse", () => {
    const s = store();
    initWithHistory(s);
    const file = join(s.root, "local", "environment.json");
    const doc = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, `${JSON.stringify({ ...doc, generation: 1 }, null, 2)}\n`);
    const err = fails(s, ["env", "show", "local"], 1, "integrity");
    expect(err.message).toContain("does not hold what generation 4 committed");
    expect(err.hint).toContain("op env restore local environment.json.");
    fails(s, ["config", "set", "local", "--region", "x"], 1, "integrity");
  });

  it("a deleted audit log is reported by audit verify, and no change commits without its history", () => {
    const s = store();
    initWithHistory(s, 4); // generation 5
    rmSync(join(s.root, "local", "audit", "events.jsonl"));
    rmSync(join(s.root, "local", "audit", "head.json"));
    const r = s.op(["audit", "verify", "local", "--json"]);
    expect(r.status).toBe(1);
    const verified = r.json.result;
    expect(verified.ok).toBe(false);
    expect(verified.reason).toContain("generation 5 was committed");
    expect(verified.reason).toContain("events were deleted");
    fails(s, ["config", "set", "local", "--region", "x"], 1, "integrity");
  });

  it("an audit directory replaced by a symlink refuses to commit, leaving the store as it was", () => {
    const s = store();
    initWithHistory(s, 1);
    const audit = join(s.root, "local", "audit");
    renameSync(audit, join(s.root, "elsewhere"));
    symlinkSync(join(s.root, "elsewhere"), audit);
    const before = digestTree(s.root);
    const err = fails(s, ["config", "set", "local", "--region", "x"], 1, "integrity");
    expect(err.message).toContain("symbolic link");
    expect(digestTree(s.root)).toBe(before);
  });

  it("two crashes between the audit append and the head update, with replays between, do not wedge", () => {
    const s = store();
    s.ok(["env", "init"]);
    const head = join(s.root, "local", "audit", "head.json");
    const stale = readFileSync(head);
    s.ok(["config", "set", "local", "--region", "a", "--idempotency-key", "k1"]);
    writeFileSync(head, stale); // crash 1: the head update lost
    s.ok(["config", "set", "local", "--region", "a", "--idempotency-key", "k1"]); // replay
    s.ok(["config", "set", "local", "--region", "b", "--idempotency-key", "k2"]);
    writeFileSync(head, stale); // crash 2: two appends behind
    s.ok(["config", "set", "local", "--region", "b", "--idempotency-key", "k2"]); // replay
    expect(s.ok(["audit", "verify", "local"])).toMatchObject({ ok: true, lines: 3 });
    expect(s.ok(["config", "set", "local", "--region", "c"]).generation).toBe(4);
    expect(s.ok(["audit", "verify", "local"])).toMatchObject({ ok: true, lines: 4 });
  });

  it("audit verify flags a generation committed twice and an event written twice", () => {
    const s = store();
    initWithHistory(s, 2);
    const log = join(s.root, "local", "audit", "events.jsonl");
    const lines = readFileSync(log, "utf8").trimEnd().split("\n");
    writeFileSync(log, `${[...lines, lines.at(-1)].join("\n")}\n`);
    rmSync(join(s.root, "local", "audit", "head.json"));
    const r = s.op(["audit", "verify", "local", "--json"]);
    expect(r.status).toBe(1);
    const twice = r.json.result;
    expect(twice.ok).toBe(false);
    expect(twice.reason).toMatch(/line 4 .*(repeats event|chains to)/);
  });
});

describe("odd files", () => {
  for (const [kind, make] of [
    ["a FIFO", (p: string) => spawnSync("mkfifo", [p])],
    ["a directory", (p: string) => mkdirSync(p)],
    ["a device", (p: string) => spawnSync("mknod", [p, "c", "1", "3"])],
  ] as const) {
    it(`${kind} in place of environment.json is integrity naming it, at once, and env list still lists the others`, () => {
      const s = store();
      s.ok(["env", "init"]);
      s.ok(["env", "create", "other"]);
      const file = join(s.root, "other", "environment.json");
      rmSync(file);
      make(file);
      const started = Date.now();
      const err = fails(s, ["env", "show", "other"], 1, "integrity");
      expect(err.message).toContain(file);
      fails(s, ["env", "update", "other", "--name", "x"], 1, "integrity");
      const list = s.ok(["env", "list"]);
      expect(list.environments ?? list).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ environment_id: "local", status: "ok" }),
          expect.objectContaining({ environment_id: "other", status: "integrity" }),
        ]),
      );
      expect(Date.now() - started).toBeLessThan(20_000);
    });
  }

  it("env restore with a symlinked environment.json is a clean integrity error", () => {
    const s = store();
    initWithHistory(s, 1);
    const file = join(s.root, "local", "environment.json");
    const backup = readdirSync(join(s.root, "local", "backups")).find((n) => n.startsWith("environment.json."))!;
    writeFileSync(join(s.root, "real.json"), readFileSync(file));
    rmSync(file);
    symlinkSync(join(s.root, "real.json"), file);
    const err = fails(s, ["env", "restore", "local", backup, "--expected-generation", "2"], 1, "integrity");
    expect(err.message).toContain("symbolic link");
  });
});

describe("the idempotency ledger", () => {
  const mistyped = JSON.stringify({
    schema: "greentic.idempotency-entry.v1",
    key: "k1",
    fingerprint: "f",
    noun: "config",
    verb: "set",
    generation: "2",
    recorded_at: "2026-01-01T00:00:00Z",
    response: { etag: "e", generation: 2 },
  });
  // The entry is checked against deploy-spec's IdempotencyEntrySchema: the issues come as data
  // with kebab-case codes (none for a file that is not JSON at all).
  for (const [name, content, issue] of [
    ["corrupt", "{ not json", undefined],
    ["{}", "{}", { path: "schema", code: "schema-mismatch" }],
    ["mistyped", mistyped, { path: "generation", code: "invalid-type" }],
  ] as const) {
    it(`a ${name} entry is integrity naming it, and the keyed request is not applied again`, () => {
      const s = store();
      s.ok(["env", "init"]);
      s.ok(["config", "set", "local", "--region", "a", "--idempotency-key", "k1"]);
      // A later commit, so that the newest commit record no longer holds k1's entry to repair it from.
      s.ok(["config", "set", "local", "--region", "b"]);
      const dir = join(s.root, "local", "idempotency");
      const entry = join(dir, readdirSync(dir)[0]!);
      writeFileSync(entry, content);
      const before = digestTree(s.root);
      const err = fails(s, ["config", "set", "local", "--region", "a", "--idempotency-key", "k1"], 1, "integrity");
      expect(err.path).toBe(entry);
      expect(err.message).toContain(`idempotency ledger entry ${entry} is damaged: `);
      if (issue === undefined) expect(err.issues).toBeUndefined();
      else expect(err.issues?.[0]).toMatchObject(issue);
      expect(digestTree(s.root)).toBe(before);
      expect(
        s.ok(["audit", "list", "local"]).events.filter((e: { idempotency_key?: string }) => e.idempotency_key === "k1"),
      ).toHaveLength(1);
    });
  }
});

describe("locks", () => {
  it("--force-unlock refuses a holder alive on this host", () => {
    const s = store();
    s.ok(["env", "init"]);
    const lockDir = join(s.root, ".locks", "local.lock");
    mkdirSync(lockDir, { recursive: true });
    const start = readFileSync(`/proc/${process.pid}/stat`, "utf8");
    const pidStart = start.slice(start.lastIndexOf(")") + 2).split(" ")[19];
    const host = readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
    writeFileSync(
      join(lockDir, "owner.json"),
      JSON.stringify({
        id: "live-1",
        pid: process.pid,
        pid_start: pidStart,
        host,
        user: "u",
        operation: "x",
        acquired_at: "2026-01-01T00:00:00Z",
      }),
    );
    const err = fails(s, ["env", "lock", "local", "--force-unlock", "live-1"], 3, "locked");
    expect(err.message).toContain("still running on this host");
    expect(statSync(lockDir).isDirectory()).toBe(true);
    // A holder that is gone (another pid start time: the pid was reused) is removed.
    writeFileSync(
      join(lockDir, "owner.json"),
      JSON.stringify({
        id: "dead-1",
        pid: process.pid,
        pid_start: "1",
        host,
        user: "u",
        operation: "x",
        acquired_at: "2026-01-01T00:00:00Z",
      }),
    );
    s.ok(["env", "lock", "local", "--force-unlock", "dead-1"]);
  });
});

describe("no-op env init", () => {
  it("racing inits of a new environment leave one audited init", async () => {
    const s = store();
    const { spawn } = await import("node:child_process");
    const { BIN, REPO } = await import("./helpers.js");
    const runs = Array.from(
      { length: 4 },
      () =>
        new Promise<number | null>((done) =>
          spawn(process.execPath, [BIN, "env", "init", "--store-root", s.root, "--json"], {
            cwd: REPO,
            stdio: "ignore",
          }).on("exit", done),
        ),
    );
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0]);
    const events = s.ok(["audit", "list", "local"]);
    expect(events.events.filter((e: { verb: string }) => e.verb === "init")).toHaveLength(1);
  });
});

describe("dev-store secrets", () => {
  it("names like constructor, valueOf and isPrototypeOf are names like any other", () => {
    const s = store();
    s.ok(["env", "init"]);
    fails(s, ["secrets", "get", "local", "constructor", "--reveal"], 4, "not-found");
    fails(s, ["secrets", "rotate", "local", "valueOf"], 4, "not-found");
    expect(s.ok(["secrets", "delete", "local", "isPrototypeOf"]).deleted).toBe(false);
    expect(s.ok(["secrets", "list", "local"]).names).toEqual([]);
  });

  it("a keyed put records an HMAC under a 0600 per-environment key, never a plain digest of the value", () => {
    const s = store();
    s.ok(["env", "init"]);
    s.ok(["secrets", "put", "local", "db", "--value-stdin", "--idempotency-key", "sk"], { input: "hunter2" });
    const key = join(s.root, "local", "data", "secrets", "fingerprint.key");
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const plain = (value: string) => createHash("sha256").update(value).digest("hex");
    const tree = JSON.stringify(readdirSync(join(s.root, "local"), { recursive: true }).map(String));
    const ledger = readdirSync(join(s.root, "local", "idempotency"))
      .map((n) => readFileSync(join(s.root, "local", "idempotency", n), "utf8"))
      .join("");
    expect(tree).not.toContain(plain("hunter2"));
    expect(ledger).not.toContain(plain("hunter2"));
    expect(ledger).not.toContain("hunter2");
  });

  it("env destroy removes the secrets it held, unless --keep-secrets", () => {
    const s = store();
    s.ok(["env", "init"]);
    s.ok(["secrets", "put", "local", "db", "--value-stdin"], { input: "hunter2" });
    const kept = s.ok(["env", "destroy", "local", "--confirm", "--keep-secrets"]);
    expect(kept.secrets_removed).toBe(false);
    const moved = readdirSync(join(s.root, ".destroyed"));
    expect(readFileSync(join(s.root, ".destroyed", moved[0]!, "data", "secrets", "secrets.json"), "utf8")).toContain(
      "hunter2",
    );
    s.ok(["env", "init"]);
    s.ok(["secrets", "put", "local", "db", "--value-stdin"], { input: "hunter3" });
    expect(s.ok(["env", "destroy", "local", "--confirm"]).secrets_removed).toBe(true);
    const second = readdirSync(join(s.root, ".destroyed")).find((n) => n !== moved[0])!;
    const grep = spawnSync("grep", ["-r", "hunter3", join(s.root, ".destroyed", second)]);
    expect(grep.status).toBe(1);
  }, 120_000);
});
