import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { BIN, REPO, digestTree, ensureBuilt, op, store, type OpResult, type Store } from "./helpers.js";

ensureBuilt();

// Issue 17: reads are pure and the store survives a full or read-only disk. The store is put
// on a real read-only bind mount (root cannot write through it, unlike chmod) and on a small
// tmpfs filled to the last page. Mounting needs root, which CI has; elsewhere these tests skip.

const isRoot = process.getuid?.() === 0;
// These suites need root (a read-only bind mount, a small tmpfs, setpriv to another user). CI runs
// as root: there a missing root fails the file instead of skipping it unseen.
if (!isRoot && process.env.CI)
  throw new Error("the read-only, full-disk and EACCES store suites need root under CI (CI runs .ci/run as root)");

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
}

function mountpoint(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => {
    spawnSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** `dir` seen through a read-only bind mount. */
function readOnlyView(dir: string): string {
  const view = mountpoint("op-ro-");
  sh("mount", ["--bind", dir, view]);
  sh("mount", ["-o", "remount,bind,ro", view]);
  return view;
}

/** A tmpfs of `kib` KiB. */
function smallDisk(kib: number): string {
  const disk = mountpoint("op-full-");
  sh("mount", ["-t", "tmpfs", "-o", `size=${kib}k,mode=0700`, "tmpfs", disk]);
  return disk;
}

/** Fills `disk` up, then frees `pages` 4 KiB pages. Returns the filler file. */
function fill(disk: string, pages: number): void {
  const filler = join(disk, "filler");
  rmSync(filler, { force: true });
  spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k"], { encoding: "utf8" }); // ends with ENOSPC
  truncateSync(filler, Math.max(0, statSync(filler).size - pages * 4096));
}

/** `op ... --store-root root`. */
const at = (root: string, args: string[], input?: string): OpResult =>
  op([...args, "--store-root", root], input === undefined ? {} : { input });

/**
 * `op ... --store-root root` as the unprivileged user nobody (uid 65534): file permissions apply
 * to it as they do to any user's store. It keeps one capability, reading and searching any
 * directory, so that it can load `op` from wherever the repository was checked out (a root-only
 * home in CI); it writes only where the modes let it.
 */
function asNobody(root: string, args: string[]): OpResult {
  const home = join(root, "..", "nobody-home");
  mkdirSync(home, { recursive: true });
  chownSync(home, 65534, 65534);
  const r = spawnSync(
    "setpriv",
    [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--inh-caps=+dac_read_search",
      "--ambient-caps=+dac_read_search",
      process.execPath,
      BIN,
      ...args,
      "--store-root",
      root,
    ],
    { encoding: "utf8", cwd: REPO, env: { PATH: process.env.PATH, HOME: home, NO_COLOR: "1" }, timeout: 60_000 },
  );
  const out: OpResult = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if (r.stdout.trim().startsWith("{")) out.json = JSON.parse(r.stdout);
  if (r.stderr.trim().startsWith("{")) out.errorJson = JSON.parse(r.stderr);
  return out;
}

function expectIoError(r: OpResult, code: string, under: string, label: string) {
  expect(r.status, `${label}: ${r.stdout}${r.stderr}`).toBe(1);
  const error = r.errorJson?.error;
  expect(error?.kind, `${label}: ${r.stderr}`).toBe("io");
  expect(error.details?.code, label).toBe(code);
  expect(error.path, label).toContain(under);
  expect(error.message, label).toContain(error.path);
  expect(error.hint, label).toBe(
    code === "EROFS"
      ? "the store is on a read-only file system: remount it read-write (or point --store-root elsewhere) and retry"
      : code === "EACCES"
        ? "permission denied: run as the store's owner or fix the permissions of the path"
        : "the file system is full: free some space (old backups under backups/ can go) and retry; nothing was committed",
  );
}

/** Every read verb of a local environment, with what it must say. */
const READS: { args: string[]; check?: (result: any) => void }[] = [
  { args: ["env", "show", "local"], check: (r) => expect(r.environment.host_config.region).toBe("eu") },
  { args: ["env", "list"], check: (r) => expect(JSON.stringify(r)).toContain('"local"') },
  { args: ["env", "doctor", "local"] },
  { args: ["env", "backups", "local"] },
  { args: ["env", "lock", "local"] },
  { args: ["status", "local"] },
  { args: ["traffic", "show", "local"] },
  { args: ["secrets", "list", "local"], check: (r) => expect(JSON.stringify(r)).toContain("db-password") },
  { args: ["revisions", "list", "local"] },
  { args: ["audit", "list", "local"], check: (r) => expect(JSON.stringify(r)).toContain('"config"') },
  { args: ["audit", "verify", "local"], check: (r) => expect(r.ok).toBe(true) },
  { args: ["config", "show", "local"], check: (r) => expect(JSON.stringify(r)).toContain('"eu"') },
  { args: ["bundles", "list", "local"], check: (r) => expect(JSON.stringify(r)).toContain("shop") },
  { args: ["env-packs", "list", "local"] },
];

function seeded(s: Store): void {
  s.ok(["env", "init"]);
  s.ok(["config", "set", "local", "--region", "eu"]);
  s.ok(["env", "update", "local", "--name", "Local"]);
  s.ok(["bundles", "add", "local", "--bundle-id", "shop"]);
  s.ok(["secrets", "put", "local", "db-password", "--value-stdin"], { input: "hunter2-but-longer" });
}

function readsPass(root: string, extra: typeof READS = []): void {
  for (const { args, check } of [...READS, ...extra]) {
    const r = at(root, [...args, "--json"]);
    expect(r.status, `op ${args.join(" ")} on a read-only store: ${r.stderr}`).toBe(0);
    check?.(r.json.result);
  }
}

describe.skipIf(!isRoot)("reads are pure: every read verb works on a read-only store and writes nothing", () => {
  it("a store with history, a bundle and a secret, but nothing staged (no data directories yet)", () => {
    const s = store();
    seeded(s);
    const before = digestTree(s.root);
    const view = readOnlyView(s.root);
    readsPass(view);
    expect(digestTree(s.root)).toBe(before);
  }, 180_000);

  describe("a deployed environment: the router and a revision running", () => {
    let s: Store;
    let bundle: string;
    beforeAll(() => {
      s = store({ persistent: true });
      seeded(s);
      bundle = join(s.root, "..", "hello.gtbundle");
      s.ok([
        "bundles",
        "build",
        "fixtures/bundles/hello",
        "--bundle-id",
        "hello",
        "--bundle-version",
        "0.1.0",
        "--out",
        bundle,
      ]);
      s.ok(["deploy", "--bundle", bundle, "--bundle-id", "hello", "--new-deployment"]);
    }, 120_000);
    afterAll(() => s?.dispose());

    it("reads, the live probes included, exit 0 and leave the store byte-identical", () => {
      const before = digestTree(s.root);
      const view = readOnlyView(s.root);
      readsPass(view, [
        { args: ["logs", "local", "--router", "-n", "5"] },
        {
          args: ["revisions", "show", "local", "latest", "--deployment", "hello"],
          check: (r) => expect(r.lifecycle ?? r.revision?.lifecycle).toBe("ready"),
        },
        {
          args: ["traffic", "show", "local", "--deployment", "hello"],
          check: (r) => expect(JSON.stringify(r)).toContain('"weight_bps":10000'),
        },
      ]);
      const doctor = at(view, ["env", "doctor", "local"]);
      expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
      expect(digestTree(s.root)).toBe(before);
    }, 180_000);

    it("mutations on the read-only store are io EROFS naming the path, with the hint; nothing changes", () => {
      const before = digestTree(s.root);
      const view = readOnlyView(s.root);
      const latest = s.ok(["revisions", "list", "local"]);
      const revision = JSON.stringify(latest).match(/"revision_id":"([0-9A-Z]{26})"/)![1]!;
      const mutations: { args: string[]; input?: string }[] = [
        { args: ["config", "set", "local", "--region", "us"] },
        { args: ["env", "update", "local", "--name", "x"] },
        { args: ["bundles", "add", "local", "--bundle-id", "other"] },
        { args: ["secrets", "put", "local", "other", "--value-stdin"], input: "value-of-other" },
        { args: ["traffic", "set", "local", `${revision}=100`, "--deployment", "hello", "--idempotency-key", "ro-1"] },
        { args: ["deploy", "--bundle", bundle, "--bundle-id", "hello"] },
        { args: ["env", "destroy", "local", "--confirm"] },
      ];
      for (const { args, input } of mutations) {
        const label = `op ${args.join(" ")}`;
        expectIoError(at(view, [...args, "--json"], input), "EROFS", view, label);
      }
      // In the user's words without --json: the path, the cause, the hint.
      const human = at(view, ["config", "set", "local", "--region", "us"]);
      expect(human.status).toBe(1);
      expect(human.stderr).toMatch(/^Error: locking \S+\/local\.lock failed: EROFS: read-only file system/m);
      expect(human.stderr).toContain("Hint: the store is on a read-only file system: remount it read-write");
      expect(digestTree(s.root)).toBe(before);
      expect(s.ok(["audit", "verify", "local"])).toMatchObject({ ok: true });
    }, 180_000);
  });
});

describe.skipIf(!isRoot)("a full disk", () => {
  it("a mutation short of room before its commit point leaves the store byte-identical; after it, the next change finishes it", () => {
    const s = store();
    seeded(s);
    const disk = smallDisk(4096);
    const root = join(disk, "home");
    sh("cp", ["-a", s.root, root]);
    const generation = (): number => at(root, ["env", "show", "local", "--json"]).json.result.generation;
    const start = generation();
    const failedAt: string[] = [];
    let outcome: "committed" | "committed, not written out" | undefined;
    for (let pages = 0; pages <= 16 && outcome === undefined; pages++) {
      fill(disk, pages);
      const before = digestTree(root);
      const r = at(root, ["env", "update", "local", "--name", "full", "--json"]);
      if (r.status === 0) {
        outcome = "committed";
        expect(r.json.result.generation).toBe(start + 1);
      } else if (r.errorJson?.error?.kind === "audit") {
        // Past the commit point (the record is linked) a write ran out of room: the change is
        // in effect, said so in its words, and the next change writes it out first.
        outcome = "committed, not written out";
        expect(r.status).toBe(1);
        expect(r.errorJson.error.details).toEqual({ committed: true, generation: start + 1 });
        expect(r.errorJson.error.message).toContain(`the change committed (generation ${start + 1})`);
        expect(r.errorJson.error.hint).toContain("the file system is full: free some space");
      } else {
        expectIoError(r, "ENOSPC", root, `${pages} free pages`);
        failedAt.push(
          r.errorJson.error.path.replace(/\.\d{8}T\d+\.\d+Z(\.\d+)?\.bak$/, ".<stamp>.bak").slice(root.length),
        );
        expect(digestTree(root), `${pages} free pages: the store as it was`).toBe(before);
        expect(at(root, ["audit", "verify", "local", "--json"]).json.result).toMatchObject({ ok: true });
        expect(generation()).toBe(start);
      }
    }
    expect(outcome, `never reached the commit point; failed at ${failedAt.join(", ")}`).toBeDefined();
    // Before the commit point, each write was short of room once: the lock's owner record, the
    // backup and the commit record.
    expect(failedAt).toEqual([
      "/.locks/local.lock/owner.json",
      "/local/backups/environment.json.<stamp>.bak",
      `/local/commits/${String(start + 1).padStart(12, "0")}.json`,
    ]);
    rmSync(join(disk, "filler"));
    expect(at(root, ["env", "update", "local", "--name", "after", "--json"]).json.result.generation).toBe(start + 2);
    expect(at(root, ["audit", "verify", "local", "--json"]).json.result).toMatchObject({ ok: true });
    const audit = at(root, ["audit", "list", "local", "--json"]).json.result;
    const gens = JSON.stringify(audit)
      .match(/"new_generation":\d+/g)!
      .map((m) => Number(m.split(":")[1]));
    expect(gens).toEqual(Array.from({ length: start + 2 }, (_, i) => i + 1));
  }, 180_000);

  it("secrets put on a full disk is io ENOSPC and never leaves a short fingerprint key", () => {
    const s = store();
    seeded(s);
    const disk = smallDisk(4096);
    const root = join(disk, "home");
    sh("cp", ["-a", s.root, root]);
    const keyFile = join(root, "local", "data", "secrets", "fingerprint.key");
    rmSync(keyFile, { force: true });
    fill(disk, 0);
    const before = digestTree(root);
    const r = at(
      root,
      ["secrets", "put", "local", "api-token", "--value-stdin", "--idempotency-key", "k1", "--json"],
      "t0ken-value",
    );
    expectIoError(r, "ENOSPC", root, "secrets put");
    // The key is made first (the request's fingerprint needs it): the write that failed was its own.
    expect(r.errorJson.error.path).toBe(keyFile);
    expect(digestTree(root)).toBe(before);
    rmSync(join(disk, "filler"));
    expect(
      at(
        root,
        ["secrets", "put", "local", "api-token", "--value-stdin", "--idempotency-key", "k1", "--json"],
        "t0ken-value",
      ).status,
    ).toBe(0);
    expect(readFileSync(keyFile)).toHaveLength(32);
  }, 120_000);

  it("a damaged (short) fingerprint key is integrity naming it, not a weaker HMAC", () => {
    const s = store();
    seeded(s);
    const keyFile = join(s.root, "local", "data", "secrets", "fingerprint.key");
    mkdirSync(join(keyFile, ".."), { recursive: true });
    writeFileSync(keyFile, "", { mode: 0o600 });
    const r = s.op(["secrets", "put", "local", "api-token", "--value-stdin", "--idempotency-key", "k1", "--json"], {
      input: "t0ken-value",
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.errorJson.error).toMatchObject({ kind: "integrity", path: keyFile });
    expect(r.errorJson.error.message).toBe(`${keyFile} holds 0 bytes, not a 32-byte key`);
  }, 120_000);
});

describe.skipIf(!isRoot)("a store its user may not write (EACCES), as a non-root user", () => {
  it("a mutation refused a directory is io EACCES naming the path, with the hint; the store is left byte-identical", () => {
    const s = store();
    seeded(s);
    // The store belongs to nobody, as a user's store belongs to them.
    sh("chown", ["-R", "65534:65534", s.root]);
    const show = () => asNobody(s.root, ["env", "show", "local", "--json"]);
    const start = show().json.result.generation as number;
    const commit = `local/commits/${String(start + 1).padStart(12, "0")}.json`;
    // Each directory a mutation writes before its commit point, made read-only (mode 0500) in
    // turn: the lock, the backup, the commit record; then the whole store.
    const cases: { dir: string; path: RegExp }[] = [
      { dir: ".locks", path: /^\.locks\/local\.lock$/ },
      { dir: "local/backups", path: /^local\/backups\/environment\.json\.\d{8}T\d+\.\d+Z(\.\d+)?\.bak$/ },
      { dir: "local/commits", path: new RegExp(`^${commit.replace(/\./g, "\\.")}$`) },
      { dir: ".", path: /^\.locks\/local\.lock$/ },
    ];
    for (const { dir, path } of cases) {
      const blocked = join(s.root, dir);
      const dirs = dir === "." ? [s.root, join(s.root, ".locks"), join(s.root, "local")] : [blocked];
      for (const d of dirs) chmodSync(d, 0o500);
      const before = digestTree(s.root);
      const verbs = [
        ["config", "set", "local", "--region", "us"],
        ["env", "update", "local", "--name", "denied"],
        ["bundles", "add", "local", "--bundle-id", "denied"],
      ];
      // Every verb goes through the same commit path: three on the whole store, one elsewhere.
      for (const args of dir === "." ? verbs : verbs.slice(0, 1)) {
        const label = `op ${args.join(" ")} with ${dir} mode 0500`;
        const r = asNobody(s.root, [...args, "--json"]);
        expectIoError(r, "EACCES", s.root, label);
        expect(r.errorJson.error.path.slice(s.root.length + 1), label).toMatch(path);
        expect(r.errorJson.error.message, label).toContain("EACCES: permission denied");
        expect(digestTree(s.root), `${label}: the store as it was`).toBe(before);
      }
      if (dir === ".") {
        // Reads stay open to the store's user, and write nothing.
        expect(show().json.result.generation, "env show of a store mode 0500").toBe(start);
        expect(asNobody(s.root, ["audit", "verify", "local", "--json"]).json.result).toMatchObject({ ok: true });
        expect(digestTree(s.root), "after the reads").toBe(before);
      }
      for (const d of dirs) chmodSync(d, 0o700);
    }
    // In the user's words without --json: the path, the cause, the hint.
    chmodSync(join(s.root, "local", "commits"), 0o500);
    const human = asNobody(s.root, ["config", "set", "local", "--region", "us"]);
    expect(human.status).toBe(1);
    expect(human.stderr).toContain(`${join(s.root, commit)} failed: EACCES: permission denied`);
    expect(human.stderr).toContain(
      "Hint: permission denied: run as the store's owner or fix the permissions of the path",
    );
    chmodSync(join(s.root, "local", "commits"), 0o700);
    // Nothing was left half-done: the next change, permissions fixed, is the next generation.
    const after = asNobody(s.root, ["config", "set", "local", "--region", "us", "--json"]);
    expect(after.status, after.stderr).toBe(0);
    expect(after.json.result.generation).toBe(start + 1);
    expect(asNobody(s.root, ["audit", "verify", "local", "--json"]).json.result).toMatchObject({ ok: true });
  }, 180_000);
});
