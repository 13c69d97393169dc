import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Store, deployHello, ensureBuilt, stageHello, store } from "../../helpers.js";

// Short references (ULID prefixes, @N, latest, previous, stable, bundle ids) and the default
// environment, through the real binary against one deployment with three revisions.
let s: Store;
let f: { deployment: string; r1: string; r2: string; r3: string };

beforeAll(() => {
  ensureBuilt();
  s = store({ persistent: true });
  const d = deployHello(s);
  f = { deployment: d.deployment, r1: d.revision, r2: stageHello(s, d.deployment), r3: stageHello(s, d.deployment) };
});
afterAll(() => s?.dispose());

describe("revision references", () => {
  it("revisions show: @N, latest, previous, stable, a lower-case prefix; ENV defaults to local", () => {
    const cases: [string, string][] = [
      ["@1", f.r1],
      ["@3", f.r3],
      ["latest", f.r3],
      ["previous", f.r2],
      ["stable", f.r1],
      [f.r2.toLowerCase(), f.r2],
      [f.r3.slice(0, 20).toLowerCase(), f.r3],
    ];
    for (const [ref, id] of cases) {
      expect(s.ok(["revisions", "show", ref]).revision.revision_id, ref).toBe(id);
      expect(s.ok(["revisions", "show", "local", ref]).revision.revision_id, ref).toBe(id);
    }
  });

  it("an ambiguous prefix exits 2 and lists the candidates; a bad reference exits 2; no match exits 4", () => {
    // The three ids were minted within seconds: their first 6 characters are shared.
    const prefix = f.r1.slice(0, 6);
    const amb = s.op(["revisions", "show", prefix.toLowerCase(), "--json"]);
    expect(amb.status).toBe(2);
    expect(amb.errorJson.error.kind).toBe("invalid-argument");
    expect(amb.errorJson.error.message).toBe(
      `REV: "${prefix.toLowerCase()}" matches 3 revisions: ${f.r1} (hello @1, ready), ${f.r2} (hello @2, staged), ${f.r3} (hello @3, staged)`,
    );
    const bad = s.op(["revisions", "show", "@0"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(
      'Error: REV: "@0" is not a revision reference\nHint: give a revision id, a unique prefix of at least 6 of its characters, @N (its sequence number), latest, previous, stable or a tag\n',
    );
    const none = s.op(["revisions", "show", "@9", "--json"]);
    expect(none.status).toBe(4);
    expect(none.errorJson.error.message).toBe(`REV: deployment ${f.deployment} (hello) has no revision @9`);
  });

  it("revisions warm REV works without ENV, with a prefix, and traffic set takes latest=10 stable=90", () => {
    const warm = s.op(["revisions", "warm", f.r2.slice(0, 24).toLowerCase()]);
    expect(warm.status, warm.stderr).toBe(0);
    expect(warm.stdout).toMatch(
      new RegExp(`^Revision ${f.r2} is ready; serving at http://127\\.0\\.0\\.1:\\d+/\\.\\n$`),
    );
    const set = s.ok(["traffic", "set", "@2=10", "stable=90", "--idempotency-key", "refs-1"]);
    expect(set.split.entries).toEqual([
      { revision_id: f.r2, weight_bps: 1000 },
      { revision_id: f.r1, weight_bps: 9000 },
    ]);
    expect(s.ok(["revisions", "show", "stable"]).revision.revision_id).toBe(f.r1);
    // Percent in, percent out.
    const sum = s.op(["traffic", "set", "@2=15", "stable=80", "--idempotency-key", "refs-2"]);
    expect(sum.status).toBe(2);
    expect(sum.stderr).toBe(
      "Error: REV=WEIGHT: weights sum to 95%; they must sum to exactly 100%\nHint: make the weights add up to exactly 100% (10000bps)\n",
    );
  });

  it("deployments by bundle id or prefix; unknown names exit 4 listing the deployments", () => {
    expect(s.ok(["bundles", "show", "hello"]).deployment.deployment_id).toBe(f.deployment);
    expect(s.ok(["revisions", "list", "--deployment", f.deployment.toLowerCase()]).revisions).toHaveLength(3);
    expect(s.ok(["traffic", "show", "-d", "hello"]).splits[0].deployment_id).toBe(f.deployment);
    const r = s.op(["traffic", "show", "--deployment", "nope", "--json"]);
    expect(r.status).toBe(4);
    expect(r.errorJson.error).toMatchObject({
      kind: "not-found",
      message: '--deployment: no deployment "nope" in environment local',
      hint: `deployments here: ${f.deployment} (bundle hello, customer local-dev)`,
    });
  });
});

describe("the environment argument", () => {
  it("defaults to $GREENTIC_ENV, then local, for read and mutating verbs alike", () => {
    const env = { env: { GREENTIC_ENV: "staging" } };
    for (const args of [
      ["revisions", "list"],
      ["env", "show"],
      ["traffic", "show"],
      ["audit", "list"],
    ]) {
      const r = s.op([...args, "--json"], env);
      expect(r.status, args.join(" ")).toBe(4);
      expect(r.errorJson.error.message, args.join(" ")).toMatch(/environment staging does not exist/);
    }
    const warm = s.op(["revisions", "warm", "latest", "--json"], env);
    expect(warm.status).toBe(4);
    expect(s.ok(["env", "show"]).environment.environment_id).toBe("local");
  });

  it("usage lines read [ENV] once, never [ENV...]", () => {
    const r = s.op(["traffic", "set", "--help"]);
    expect(r.stdout).toContain("$ op traffic set [ENV] REV=WEIGHT... --idempotency-key KEY");
    expect(r.stdout).not.toContain("[ENV...]");
    expect(s.op(["revisions", "warm", "--help"]).stdout).toContain(
      "$ op revisions warm [ENV] REV [--idempotency-key KEY]",
    );
  });

  it("errors name the flags and arguments a user can pass, not payload fields", () => {
    const stage = s.op(["revisions", "stage", "--deployment", "hello"]);
    expect(stage.status).toBe(2);
    expect(stage.stderr).toBe(
      "Error: --bundle: required field is missing (the .gtbundle file to stage)\nHint: build the bundle with `op bundles build` and name the file in --bundle\n",
    );
    const warm = s.op(["revisions", "warm", "--json"]);
    expect(warm.status).toBe(2);
    expect(warm.errorJson.error).toMatchObject({
      kind: "validation",
      message: "REV: required field is missing (expected string)",
      path: "REV",
      hint: "pass REV, or give the payload with --answers FILE (`op revisions warm --help`)",
    });
  });
});
