import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Store, deployHello, digestTree, ensureBuilt, stageHello, store } from "../../helpers.js";

// Revision tags through the real binary: `op revisions tag/untag`, tags as revision references
// (traffic set canary=10 stable=90), uniqueness per deployment, refusals with exit codes, and
// the stored field (left out when a revision has no tag, so the document stays the reference's).
let s: Store;
let f: { deployment: string; r1: string; r2: string; other: string; o1: string };

beforeAll(() => {
  ensureBuilt();
  s = store({ persistent: true });
  const d = deployHello(s);
  const r2 = stageHello(s, d.deployment);
  s.ok(["revisions", "warm", r2]);
  const other = s.ok(["bundles", "add", "--bundle-id", "other"]).deployment.deployment_id as string;
  f = { deployment: d.deployment, r1: d.revision, r2, other, o1: stageHello(s, other) };
});
afterAll(() => s?.dispose());

const stored = () =>
  JSON.parse(readFileSync(join(s.root, "local", "environment.json"), "utf8")) as {
    revisions: { revision_id: string; tags?: string[] }[];
  };

describe("op revisions tag / untag", () => {
  it("tags a revision by reference; the tag is a reference for traffic set, show and list", () => {
    // @2 needs the deployment when there are several; the error lists them.
    const amb = s.op(["revisions", "tag", "@2", "canary", "--json"]);
    expect(amb.status).toBe(2);
    expect(amb.errorJson.error.message).toBe(
      `--deployment is needed: environment local has 2 deployments: ${f.deployment} (bundle hello, customer local-dev), ${f.other} (bundle other, customer local-dev)`,
    );
    // With --deployment, a revision of another deployment is refused.
    const wrong = s.op(["revisions", "tag", f.o1, "canary", "--deployment", "hello", "--json"]);
    expect(wrong.status).toBe(2);
    expect(wrong.errorJson.error.message).toBe(
      `revision ${f.o1} belongs to deployment ${f.other}, not ${f.deployment}`,
    );
    expect(s.op(["revisions", "tag", "@2", "canary", "--deployment", "hello"]).stdout).toBe(
      `Revision ${f.r2} (@2) is tagged canary.\n`,
    );
    expect(s.ok(["revisions", "tag", "local", f.r1, "blue"])).toMatchObject({
      tag: "blue",
      outcome: "tagged",
      revision: { revision_id: f.r1, tags: ["blue"] },
    });
    // Again: nothing changes and nothing is audited.
    const again = s.ok(["revisions", "tag", f.r1, "blue"]);
    expect(again.outcome).toBe("unchanged");

    const set = s.ok(["traffic", "set", "canary=10", "stable=90", "--idempotency-key", "tags-1"]);
    expect(set.split.deployment_id).toBe(f.deployment);
    expect(set.split.entries).toEqual([
      { revision_id: f.r2, weight_bps: 1000 },
      { revision_id: f.r1, weight_bps: 9000 },
    ]);
    expect(s.ok(["revisions", "show", "CANARY"]).revision.revision_id).toBe(f.r2);
    const list = s.op(["revisions", "list", "--deployment", "hello", "--columns", "version,tags,traffic"]);
    expect(list.stdout).toBe("VERSION  TAGS    TRAFFIC\n     @1  blue        90%\n     @2  canary      10%\n");

    const doc = stored();
    expect(doc.revisions.find((r) => r.revision_id === f.r2)!.tags).toEqual(["canary"]);
    // No tag: no field at all (a reference-written revision has none).
    expect(Object.hasOwn(doc.revisions.find((r) => r.revision_id === f.o1)!, "tags")).toBe(false);

    const audit = s.ok(["audit", "list", "--json"]).events as { verb: string; target: unknown }[];
    const tags = audit.filter((e) => e.verb === "tag");
    expect(tags.map((e) => e.target)).toEqual([
      { revision_id: f.r2, tag: "canary" },
      { revision_id: f.r1, tag: "blue" },
    ]);
  });

  it("a tag is unique per deployment: taken is exit 3 naming the holder, --move takes it over", () => {
    const before = digestTree(join(s.root, "local"));
    const taken = s.op(["revisions", "tag", f.r1, "canary", "--json"]);
    expect(taken.status).toBe(3);
    expect(taken.errorJson.error).toMatchObject({
      kind: "conflict",
      message: `revision ${f.r2} (@2) of deployment ${f.deployment} is already tagged "canary"`,
      hint: "take it over (--move), or choose another name",
    });
    expect(digestTree(join(s.root, "local"))).toBe(before);
    const moved = s.ok(["revisions", "tag", f.r1, "canary", "--move"]);
    expect(moved).toMatchObject({ outcome: "moved", moved_from: f.r2, revision: { tags: ["blue", "canary"] } });
    expect(Object.hasOwn(stored().revisions.find((r) => r.revision_id === f.r2)!, "tags")).toBe(false);
    // The same tag in another deployment is fine.
    s.ok(["revisions", "tag", f.o1, "canary"]);
  });

  it("unknown and ambiguous tags exit 2 with the candidates; bad and reserved names exit 2", () => {
    const before = digestTree(join(s.root, "local"));
    const unknown = s.op(["traffic", "set", "canry=10", "blue=90", "--deployment", "hello", "--idempotency-key", "t"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe(
      `Error: entry "canry=10": "canry" is not a revision reference: no revision is tagged "canry" in deployment ${f.deployment}\n` +
        `Hint: tags there: blue -> ${f.r1} (hello @1), canary -> ${f.r1} (hello @1)\n`,
    );
    const amb = s.op(["revisions", "show", "canary", "--json"]);
    expect(amb.status).toBe(2);
    expect(amb.errorJson.error).toMatchObject({
      kind: "invalid-argument",
      message: `REV: "canary" matches 2 revisions: ${f.r1} (hello @1, ready) of deployment ${f.deployment}, ${f.o1} (other @1, staged) of deployment ${f.other}`,
      hint: "revisions of each of these deployments are tagged canary: name the deployment (--deployment), or use the revision id",
    });
    expect(s.ok(["revisions", "show", "canary", "--deployment", "other"]).revision.revision_id).toBe(f.o1);
    for (const [tag, message] of [
      ["Blue!", "TAG: \"Blue!\": tags are a lower-case letter, then up to 62 lower-case letters, digits or '-'"],
      ["stable", 'TAG: "stable" is reserved: latest, previous and stable already name revisions'],
    ]) {
      const r = s.op(["revisions", "tag", f.r1, tag!, "--json"]);
      expect(r.status, tag).toBe(2);
      expect(r.errorJson.error.message, tag).toBe(message);
    }
    expect(digestTree(join(s.root, "local"))).toBe(before);
  });

  it("untag removes the tag; an unknown one exits 2, an ambiguous one needs --deployment", () => {
    const amb = s.op(["revisions", "untag", "canary"]);
    expect(amb.status).toBe(2);
    expect(amb.stderr).toContain(`TAG: "canary" matches 2 revisions`);
    expect(s.op(["revisions", "untag", "canary", "--deployment", "other"]).stdout).toBe(
      `Revision ${f.o1} (@1) no longer has tag canary.\n`,
    );
    expect(s.ok(["revisions", "untag", "local", "blue"])).toMatchObject({
      outcome: "untagged",
      revision: { revision_id: f.r1, tags: ["canary"] },
    });
    const gone = s.op(["revisions", "untag", "blue", "--json"]);
    expect(gone.status).toBe(2);
    expect(gone.errorJson.error.message).toBe(
      'TAG: "blue" is not a revision reference: no revision is tagged "blue" in environment local',
    );
    expect(gone.errorJson.error.hint).toBe(`tags there: canary -> ${f.r1} (hello @1)`);
  });

  it("--example and --schema describe the payload; the example validates", () => {
    const ex = s.op(["revisions", "tag", "--example"]);
    expect(ex.status).toBe(0);
    expect(ex.stdout).toContain("tag: canary");
    const file = s.file("tag.yaml", ex.stdout);
    const schema = JSON.parse(s.op(["revisions", "tag", "--schema"]).stdout);
    expect(schema.properties.tag.description).toMatch(/^A name for the revision/);
    expect(schema.required).toEqual(["environment_id", "revision_id", "tag"]);
    // The example names a revision that does not exist here: it passes validation, then is not found.
    const r = s.op(["revisions", "tag", "--answers", file, "--json"]);
    expect(r.status).toBe(4);
  });
});
