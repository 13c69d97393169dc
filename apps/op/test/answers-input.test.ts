import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { digestTree, ensureBuilt, store } from "./helpers.js";

beforeAll(() => ensureBuilt());

// Hostile and oversized input (issue "fenced and crash-consistent", input items): each is a
// usage error (exit 2) naming the file or flag, and leaves the store byte-identical.
describe("answers input limits", () => {
  const bomb = [
    "a: &a [x, x, x, x, x, x, x, x, x, x]",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "environment_id: local",
    "name: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
    "",
  ].join("\n");
  it.each([
    [
      "a YAML alias bomb",
      "bomb.yaml",
      bomb,
      "answers-parse",
      /^bomb\.yaml: malformed YAML: .*\(at most 100 aliases are expanded\)$/,
    ],
    [
      "duplicate JSON keys",
      "dup.json",
      '{"environment_id": "local",\n "name": "a",\n "name": "b"}',
      "answers-parse",
      /^dup\.json: duplicate key "name" at line 3, column 2$/,
    ],
    [
      "an answers file over 1 MiB",
      "big.yaml",
      `environment_id: local\nname: ${"x".repeat(1024 * 1024)}\n`,
      "answers-parse",
      /^big\.yaml: answers file is larger than 1048576 bytes \(1 MiB\)$/,
    ],
    [
      "a 5000-character name",
      "long.yaml",
      `environment_id: local\nname: ${"x".repeat(5000)}\n`,
      "validation",
      /^long\.yaml: name: 5000 characters; at most 4096 are allowed$/,
    ],
  ])("%s exits 2 and changes nothing", (_name, file, content, kind, message) => {
    const s = store();
    s.ok(["env", "init"]);
    const path = s.file(file, content);
    const before = digestTree(s.root);
    const r = s.op(["config", "set", "--answers", path, "--json"], { cwd: join(path, "..") });
    expect(r.status, r.stderr).toBe(2);
    expect(r.errorJson.error.kind).toBe(kind);
    expect(r.errorJson.error.message.replace(`${path}`, file)).toMatch(message);
    expect(digestTree(s.root)).toBe(before);
  });

  it("a flag value over 4096 characters names the flag", () => {
    const s = store();
    s.ok(["env", "init"]);
    const r = s.op(["config", "set", "--region", "r".repeat(4097), "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error.message).toBe("--region: 4097 characters; at most 4096 are allowed");
  });
});

describe("--if-match", () => {
  it.each([
    ['W/"abc"', "is a weak ETag (W/...); op compares strong ETags only"],
    ["*", 'is the wildcard "*"; name the ETag you last saw'],
    ["", "is empty"],
    ["nope", "is not an ETag (64 hexadecimal digits)"],
  ])("%j is refused with exit 2 before anything is read", (value, why) => {
    const s = store();
    s.ok(["env", "init"]);
    const before = digestTree(s.root);
    for (const verb of [
      ["config", "set", "--region", "x"],
      ["env", "update", "--name", "x"],
    ]) {
      const r = s.op([...verb, "--if-match", value, "--json"]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.errorJson.error.kind).toBe("invalid-argument");
      expect(r.errorJson.error.message).toContain(`--if-match ${JSON.stringify(value)} ${why}`);
    }
    expect(digestTree(s.root)).toBe(before);
  });

  it("a quoted strong ETag is accepted", () => {
    const s = store();
    s.ok(["env", "init"]);
    const { etag } = s.ok(["env", "show"]);
    expect(s.ok(["config", "set", "--region", "x", "--if-match", `"${etag.toUpperCase()}"`]).changed).toEqual([
      "region",
    ]);
  });
});

describe("the lock", () => {
  it("a lock held by someone else is announced, and --lock-timeout gives up with exit 3", () => {
    const s = store();
    s.ok(["env", "init"]);
    // A live holder: a fresh lock directory with its owner record, as another op leaves it.
    const lockDir = join(s.root, ".locks", "local.lock");
    mkdirSync(lockDir, { recursive: true });
    const since = new Date();
    writeFileSync(
      join(lockDir, "owner.json"),
      `${JSON.stringify({ id: "01JB7Z0000000000000000LOCK", pid: 20839, host: "elsewhere", user: "ops", operation: "revisions warm", acquired_at: since.toISOString() })}\n`,
    );
    const r = s.op(["config", "set", "--region", "x", "--lock-timeout", "1"]);
    expect(r.status).toBe(3);
    const hms = [since.getHours(), since.getMinutes(), since.getSeconds()]
      .map((n) => String(n).padStart(2, "0"))
      .join(":");
    expect(r.stderr.split("\n")[0]).toBe(
      `  waiting for the lock on local held by pid 20839 on elsewhere (revisions warm, since ${hms})…`,
    );
    expect(r.stderr).toMatch(/^Error: environment local is locked by pid 20839 on elsewhere/m);
    const j = s.op(["config", "set", "--region", "x", "--lock-timeout", "0", "--json"]);
    expect(j.status).toBe(3);
    expect(j.stdout).toBe("");
    expect(j.errorJson.error.kind).toBe("locked");
  });
});

describe("--example", () => {
  it.each([["traffic", "set"], ["revisions", "stage"], ["deploy"], ["env", "update"], ["secrets", "put"]])(
    "op %s %s --example prints a commented file that validates",
    (...verb) => {
      const s = store();
      const args = verb.filter((v) => v !== undefined);
      const r = s.op([...args, "--example"]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.split("\n")[0]).toBe(
        `# Answers for \`op ${args.join(" ")}\`: run it with \`op ${args.join(" ")} --answers FILE\`.`,
      );
      // Every field is described.
      const fields = r.stdout.split("\n").filter((l) => /^(# )?[a-z_]+:/.test(l));
      const comments = r.stdout.split("\n").filter((l) => /^# .*\((required|optional)/.test(l));
      expect(comments.length).toBe(fields.length);
      // As printed, it parses and passes validation: whatever fails next is not the file's shape
      // (a lookup, or the example bundle file that does not exist here).
      const file = s.file("example.yaml", r.stdout);
      const run = s.op([...args, "--answers", file, "--json"]);
      expect(["answers-parse", "validation"], run.stderr).not.toContain(run.errorJson?.error?.kind);
    },
  );

  it("the traffic set example explains weight_bps and weight_percent", () => {
    const r = store().op(["traffic", "set", "--example"]);
    expect(r.stdout).toContain("weight_percent: 90");
    expect(r.stdout).toContain(
      "# The new split: one entry per revision, weights summing to exactly 100% (10000 basis points). (required)",
    );
    // The fields of each entry are explained under it.
    expect(r.stdout).toContain(
      "#   entries[].weight_bps: Weight in basis points, 0..10000 (10000 = 100%). Give this or weight_percent; this wins when both are given.\n",
    );
  });

  it("nested fields are explained: route bindings, revenue shares, tri-state updates", () => {
    const s = store();
    const add = s.op(["bundles", "add", "--example"]).stdout;
    expect(add).toContain("#   route_binding.tenant_selector.team: Team within the tenant.\n");
    expect(add).toContain(
      "#   revenue_share[].basis_points: The party's share in basis points, 0..10000; the shares of all parties sum to exactly 10000.\n",
    );
    const update = s.op(["env", "update", "--example"]).stdout;
    expect(update).toContain(
      "#   region.clear: true removes the field's value; false keeps it (as leaving the field out does).\n",
    );
  });
});
