import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BIN, OP_DIR, ensureBuilt, op, store } from "./helpers.js";

beforeAll(() => ensureBuilt());

describe("op (framework)", () => {
  it("op help lists the topics", () => {
    const r = op(["help"]);
    expect(r.status).toBe(0);
    for (const topic of [
      "env",
      "env-packs",
      "bundles",
      "revisions",
      "traffic",
      "config",
      "secrets",
      "credentials",
      "audit",
      "deploy",
      "autocomplete",
    ])
      expect(r.stdout).toContain(topic);
  });

  it("every command has --help with examples", () => {
    const manifest = JSON.parse(execFileSync("cat", [join(OP_DIR, "oclif.manifest.json")], { encoding: "utf8" }));
    for (const c of Object.values(manifest.commands) as { id: string; examples?: unknown[] }[]) {
      expect(c.examples?.length ?? 0, `${c.id} has no examples`).toBeGreaterThan(0);
    }
    const r = op(["traffic", "set", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("EXAMPLES");
  });

  it.each([
    ["unknown flag", ["env", "list", "--bogus"]],
    ["missing argument", ["revisions", "show"]],
    ["bad integer flag", ["env", "update", "local", "--expected-generation", "many"]],
    ["bad option", ["bundles", "update", "local", "--status", "sleeping"]],
  ])("usage error (%s) exits 2, as JSON too, with nothing on stdout", (_name, args) => {
    const s = store();
    const human = s.op(args);
    expect(human.status, human.stderr).toBe(2);
    expect(human.stdout).toBe("");
    const json = s.op([...args, "--json"]);
    expect(json.status, json.stderr).toBe(2);
    expect(json.stdout).toBe("");
    expect(json.errorJson.error.kind).toBe("invalid-argument");
  });

  it("read-only verbs: not found is 4 and invalid id is 2, under --json too", () => {
    const s = store();
    for (const json of [[], ["--json"]]) {
      expect(s.op(["env", "show", "nope", ...json]).status).toBe(4);
      expect(s.op(["revisions", "list", "nope", ...json]).status).toBe(4);
      expect(s.op(["env", "show", "../x", ...json]).status).toBe(2);
    }
    const r = s.op(["env", "show", "nope", "--json"]);
    expect(r.errorJson).toMatchObject({ op: "show", noun: "env", error: { kind: "not-found" } });
    expect(r.errorJson.error.hint).toBeTruthy();
  });

  it("success envelopes: {op, noun, result} on stdout, nothing on stderr", () => {
    const s = store();
    const init = s.op(["env", "init", "--json"]);
    expect(init.status).toBe(0);
    expect(init.stderr).toBe("");
    expect(init.json).toMatchObject({
      op: "init",
      noun: "env",
      result: { environment_id: "local", outcome: "created" },
    });
    const show = s.op(["env", "show", "local", "--json"]);
    expect(show.json.result).toMatchObject({ environment: { environment_id: "local" }, generation: 1 });
    expect(show.json.result.etag).toMatch(/^[0-9a-f]{64}$/);
    const list = s.op(["env", "list"]);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+GENERATION\s+STATUS\s+HEALTH\nlocal\s+local\s+1\s+ok\s+healthy\n$/);
  });

  it("GREENTIC_HOME picks the store when --store-root is absent", () => {
    const s = store();
    const home = join(s.root, "..", "gh");
    expect(op(["env", "init", "--json"], { env: { GREENTIC_HOME: home } }).status).toBe(0);
    expect(op(["env", "list", "--json"], { env: { GREENTIC_HOME: home } }).json.result.environments).toHaveLength(1);
  });

  it("answers from stdin (-), JSON and YAML detected by content", () => {
    const s = store();
    expect(s.op(["env", "create", "--answers", "-", "--json"], { input: '{"environment_id": "a1"}' }).status).toBe(0);
    expect(s.op(["env", "create", "--answers", "-", "--json"], { input: "environment_id: a2\n" }).status).toBe(0);
    const bad = s.op(["env", "create", "--answers", "-", "--json"], { input: "environment_id: a3\nextra: 1\n" });
    expect(bad.status).toBe(2);
    expect(bad.errorJson.error.message).toBe('<stdin>: extra: unknown field "extra"');
  });

  it("a flag contradicting the answers file is a usage error", () => {
    const s = store();
    const r = s.op(["env", "create", "b1", "--answers", s.file("a.yaml", "environment_id: b2\n"), "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error.message).toContain("environment_id");
  });
});

describe("did you mean, -h and op version", () => {
  it("an unknown command exits 2 with suggestions, named with spaces, as JSON too", () => {
    const r = op(["revisions", "wram", "latest"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      'Error: unknown command "revisions wram"\nHint: did you mean "op revisions warm"? (`op help` lists every command)\n',
    );
    expect(op(["warm"]).stderr).toContain('did you mean "op revisions warm"?');
    const j = op(["deplyo", "--json"]);
    expect(j.status).toBe(2);
    expect(j.errorJson).toEqual({
      op: "deplyo",
      noun: "deplyo",
      error: {
        kind: "invalid-argument",
        message: 'unknown command "deplyo"',
        hint: 'did you mean "op deploy"? (`op help` lists every command)',
      },
    });
    expect(op(["zzzzzzzzzz"]).stderr).toBe(
      'Error: unknown command "zzzzzzzzzz"\nHint: `op help` lists every command\n',
    );
  });

  it("an unknown flag exits 2 with the closest flags of that command", () => {
    const s = store();
    const r = s.op(["traffic", "set", "--idempotency", "k", "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error).toEqual({
      kind: "invalid-argument",
      message: "unknown flag --idempotency for op traffic set",
      hint: 'did you mean "--idempotency-key"? (`op traffic set --help` lists the flags)',
    });
  });

  it("op --help | head -1 exits 0 (a closed pipe is not an error)", () => {
    const r = spawnSync("bash", ["-c", `node ${JSON.stringify(BIN)} --help | head -1; exit \${PIPESTATUS[0]}`], {
      encoding: "utf8",
    });
    expect(r.stdout).toBe("op: the Greentic deployer CLI\n");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("-h is --help", () => {
    const h = op(["revisions", "warm", "-h"]);
    expect(h.status).toBe(0);
    expect(h.stdout).toBe(op(["revisions", "warm", "--help"]).stdout);
    expect(h.stdout).toContain("USAGE\n  $ op revisions warm [ENV] REV [--idempotency-key KEY]\n");
  });

  // A command of op's own runs without oclif's configuration (src/start.ts); help and `--` keep
  // oclif's meaning whichever way the command line goes.
  it("help reaches oclif from anywhere before --, and after -- --help is an argument", () => {
    const help = op(["env", "show", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("USAGE\n  $ op env show [ENV]");
    expect(op(["env", "show", "local", "--json", "-h"]).stdout).toBe(help.stdout);
    expect(op(["help", "env", "show"]).stdout).toBe(help.stdout);
    const topic = op(["env"]);
    expect(topic.status).toBe(0);
    expect(topic.stdout).toContain("env show");
    const s = store();
    const after = s.op(["env", "show", "local", "--json", "--", "--help"]);
    expect(after.status).toBe(2);
    expect(after.stdout).toBe("");
    expect(after.errorJson.error.kind).toBe("invalid-argument");
    // (the helper's own --store-root comes after the --, so it is an argument too)
    expect(after.errorJson.error.message).toMatch(/^Unexpected arguments: --help, --store-root, /);
    // The colon form of an id is the same command.
    s.ok(["env", "init"]);
    expect(s.op(["env:show", "local", "--json"]).json.result.environment.environment_id).toBe("local");
  });

  it("op version prints the version, the commit and Node.js", () => {
    const version = JSON.parse(execFileSync("cat", [join(OP_DIR, "package.json")], { encoding: "utf8" })).version;
    const r = op(["version", "--json"]);
    expect(r.status).toBe(0);
    expect(r.json).toEqual({
      op: "version",
      noun: "op",
      result: {
        version,
        commit: expect.stringMatching(/^[0-9a-f]{12}(-dirty)?$/),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      },
    });
    expect(op(["version"]).stdout).toBe(
      `op ${version} (commit ${r.json.result.commit}, Node.js ${process.version}, ${process.platform}-${process.arch})\n`,
    );
  });
});
