import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastOutput, parseFastArgv } from "../../../src/fast.js";
import {
  deployHello,
  ensureBuilt,
  initLocal,
  op,
  stageHello,
  store,
  tempDir,
  type RunOptions,
  type Store,
} from "../../helpers.js";

// `op env show` / `op env list` are answered by bin/run.js's fast path when the store vouches
// for the files (src/fast.ts). Through the real binary, its stdout, stderr and exit code must
// be byte-identical to the oclif path (GREENTIC_OP_NO_FAST_PATH=1); in-process, fastOutput
// shows which cases the fast path really answers.

beforeAll(() => ensureBuilt());

const SHAPES: readonly (readonly string[])[] = [
  ["env", "show", "local"],
  ["env", "show", "local", "--json"],
  ["env", "show", "--json", "local"],
  ["env", "list"],
  ["env", "list", "--json"],
];

function run(s: Store, args: readonly string[], options: RunOptions = {}) {
  const r = s.op(args, options);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `args` both ways and asserts identical output; returns it. */
function same(s: Store, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const fast = run(s, args, { env });
  const slow = run(s, args, { env: { ...env, GREENTIC_OP_NO_FAST_PATH: "1" } });
  expect(fast, `op ${args.join(" ")}`).toEqual(slow);
  return fast;
}

/** What the fast path itself answers for `args` against `s` (undefined: it falls back). */
async function served(s: Store, args: readonly string[]): Promise<string | undefined> {
  const invocation = parseFastArgv([...args, "--store-root", s.root]);
  expect(invocation, `op ${args.join(" ")} is a fast-path shape`).toBeDefined();
  return fastOutput(invocation!);
}

async function expectServedAndSame(s: Store, shapes = SHAPES): Promise<void> {
  for (const args of shapes) {
    const out = same(s, args);
    expect(out.status).toBe(0);
    expect(await served(s, args), `fast path answers op ${args.join(" ")}`).toBe(out.stdout);
  }
}

describe("argv shapes", () => {
  it("serves only env show <id> / env list with --json and --store-root", () => {
    expect(parseFastArgv(["env", "show", "local", "--json", "--store-root", "/d"])).toEqual({
      verb: "show",
      envId: "local",
      json: true,
      storeRoot: "/d",
    });
    expect(parseFastArgv(["env", "list", "--store-root=/d"])).toEqual({ verb: "list", json: false, storeRoot: "/d" });
    for (const argv of [
      ["env", "show"],
      ["env", "show", "a", "b"],
      ["env", "show", "local", "--help"],
      ["env", "show", "local", "-h"],
      ["env", "show", "local", "--verbose"],
      ["env", "show", "local", "--json", "--json"],
      ["env", "show", "local", "--store-root"],
      ["env", "show", "local", "--store-root", "--json"],
      ["env", "show", "local", "--store-root="],
      ["env", "show", "local", "--", "x"],
      ["env", "show", "../x"],
      ["env", "show", ".hidden"],
      ["env", "show", "a:b"],
      ["env", "list", "local"],
      ["env", "lists"],
      ["env:show", "local"],
      ["--help"],
      [],
    ]) {
      expect(parseFastArgv(argv), argv.join(" ")).toBeUndefined();
    }
  });

  it("leaves --help, unknown flags and bad ids to oclif", () => {
    const s = store();
    initLocal(s);
    for (const args of [
      ["env", "show", "local", "--help"],
      ["env", "show", "a/b", "--json"],
      ["env", "show", "x".repeat(200)],
    ])
      same(s, args);
    expect(same(s, ["env", "list", "--bogus"]).status).toBe(2);
  });
});

describe("a fresh local environment", () => {
  it("is served from the fast path, identical to oclif's output", async () => {
    const s = store();
    initLocal(s);
    await expectServedAndSame(s);
  });

  it("honours GREENTIC_HOME when --store-root is absent", () => {
    const home = tempDir("op-home-");
    const env = { GREENTIC_HOME: home };
    expect(op(["env", "init", "--json"], { env }).status).toBe(0);
    for (const args of [
      ["env", "show", "local", "--json"],
      ["env", "list"],
    ]) {
      const fast = op(args, { env });
      const slow = op(args, { env: { ...env, GREENTIC_OP_NO_FAST_PATH: "1" } });
      expect([fast.status, fast.stdout, fast.stderr]).toEqual([slow.status, slow.stdout, slow.stderr]);
      expect(fast.status).toBe(0);
    }
  });
});

describe("several environments", () => {
  it("lists and shows each one identically", async () => {
    const s = store();
    initLocal(s);
    s.ok(["env", "create", "qa", "--name", "QA"]);
    s.ok(["env", "create", "staging", "--name", "Staging", "--region", "eu-west"]);
    await expectServedAndSame(s, [...SHAPES, ["env", "show", "qa", "--json"], ["env", "show", "staging"]]);
  });
});

describe("a missing environment or store", () => {
  it("falls back, so the error is oclif's", async () => {
    const s = store();
    initLocal(s);
    expect(await served(s, ["env", "show", "nope"])).toBeUndefined();
    const human = same(s, ["env", "show", "nope"]);
    const json = same(s, ["env", "show", "nope", "--json"]);
    expect([human.status, json.status]).toEqual([4, 4]);
  });

  it("lists an empty store identically", async () => {
    const s = store();
    await expectServedAndSame(s, [
      ["env", "list"],
      ["env", "list", "--json"],
    ]);
  });
});

describe("hand-edited environment.json", () => {
  it("is never served from the fast path, even when still valid, and is reported as integrity", async () => {
    const s = store();
    initLocal(s);
    s.ok(["config", "set", "local", "--region", "r0"]);
    const file = join(s.root, "local", "environment.json");
    const doc = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, `${JSON.stringify({ ...doc, name: "edited by hand" }, null, 2)}\n`);
    for (const args of SHAPES) expect(await served(s, args), args.join(" ")).toBeUndefined();
    // Not what generation 2 committed: both paths report it, naming the newest valid backup.
    const shown = same(s, ["env", "show", "local", "--json"]);
    expect(shown.status).toBe(1);
    const error = JSON.parse(shown.stderr).error;
    expect(error.kind).toBe("integrity");
    expect(error.message).toContain("does not hold what generation 2 committed");
    expect(error.hint).toMatch(/op env restore local environment\.json\.\S+\.bak --expected-generation 2/);
    same(s, ["env", "list", "--json"]);
    // Restoring the named backup commits a new generation the fast path vouches for again.
    const backup = /op env restore local (\S+)/.exec(error.hint)![1]!;
    s.ok(["env", "restore", "local", backup, "--expected-generation", "2"]);
    await expectServedAndSame(s);
  });

  it("reports corruption exactly as the validating path does", async () => {
    const s = store();
    initLocal(s);
    const file = join(s.root, "local", "environment.json");
    const doc = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, `${JSON.stringify({ ...doc, packs: "not a list" }, null, 2)}\n`);
    const shown = same(s, ["env", "show", "local", "--json"]);
    expect(shown.status).toBe(1);
    expect(JSON.parse(shown.stderr).error.kind).toBe("integrity");
    expect(same(s, ["env", "list", "--json"]).stdout).toContain('"status":"integrity"');
    writeFileSync(file, "{ truncated");
    expect(same(s, ["env", "show", "local"]).status).toBe(1);
  });

  it("a hand-edited runtime.json or deployer answers file also falls back", async () => {
    const s = store();
    initLocal(s);
    writeFileSync(join(s.root, "local", "runtime.json"), "{}\n");
    expect(await served(s, ["env", "show", "local", "--json"])).toBeUndefined();
    same(s, ["env", "show", "local", "--json"]);
  });
});

describe("an environment with deployments, revisions and splits", () => {
  let s: Store;
  beforeAll(() => {
    s = store({ persistent: true });
    const { deployment } = deployHello(s);
    stageHello(s, deployment);
  }, 300_000);
  afterAll(() => s?.dispose());

  it("is served from the fast path with the live router, identical to oclif's output", async () => {
    const shown = s.ok(["env", "show", "local"]);
    expect(shown.environment.traffic_splits.length).toBe(1);
    expect(shown.environment.revisions.length).toBe(2);
    expect(shown.router?.state).toBe("running");
    await expectServedAndSame(s);
  });
});
