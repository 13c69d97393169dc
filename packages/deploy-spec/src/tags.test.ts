import { describe, expect, it } from "vitest";
import { REV_A, REV_B, sampleEnvironment } from "../test/fixtures.js";
import { RevisionSchema } from "./documents.js";
import { engine } from "./engine/index.js";
import { checkRevisionTag } from "./tags.js";
import { validateEnvironment } from "./validate-environment.js";
import { parseDocument } from "./validation.js";

const ctx = { now: "2026-07-01T00:00:00Z", newId: () => "01JB7Z0000000000000000000Z" };

describe("revision tags", () => {
  it("names: a lower-case letter first, 63 characters at most, not latest/previous/stable", () => {
    expect(checkRevisionTag("canary")).toBeNull();
    expect(checkRevisionTag(`a${"b".repeat(62)}`)).toBeNull();
    for (const bad of ["Canary", "1canary", "-x", "", `a${"b".repeat(63)}`, "a_b", "a b"])
      expect(checkRevisionTag(bad)?.code, bad).toBe("invalid-tag");
    for (const word of ["latest", "previous", "stable"]) expect(checkRevisionTag(word)?.code).toBe("reserved-tag");
  });

  it("a revision without tags has no tags field; with tags the document still parses as a revision", () => {
    const env = sampleEnvironment();
    expect(Object.hasOwn(env.revisions[0]!, "tags")).toBe(false);
    const tagged = engine.tagRevision(env, { revision_id: REV_A, tag: "canary" }, ctx).environment;
    const rev = tagged.revisions.find((r) => r.revision_id === REV_A)!;
    expect(rev.tags).toEqual(["canary"]);
    expect(parseDocument(RevisionSchema, rev).ok).toBe(true);
    const untagged = engine.untagRevision(tagged, { revision_id: REV_A, tag: "canary" }, ctx).environment;
    expect(Object.hasOwn(untagged.revisions.find((r) => r.revision_id === REV_A)!, "tags")).toBe(false);
  });

  it("one revision per deployment has a tag: a hand edit that breaks this is a validation issue", () => {
    const env = sampleEnvironment();
    env.revisions.find((r) => r.revision_id === REV_A)!.tags = ["canary"];
    env.revisions.find((r) => r.revision_id === REV_B)!.tags = ["canary"];
    const issues = validateEnvironment(env);
    expect(issues.map((i) => i.code)).toEqual(["duplicate-tag"]);
    expect(issues[0]!.message).toBe(
      `tag "canary" is on revisions ${REV_A} and ${REV_B} of deployment ${env.revisions[0]!.deployment_id}`,
    );
    expect(() => engine.tagRevision(env, { revision_id: REV_A, tag: "blue" }, ctx)).toThrow(/duplicate-tag|canary/);
  });

  it("a tag held by another revision is a conflict unless moved", () => {
    const env = engine.tagRevision(sampleEnvironment(), { revision_id: REV_A, tag: "canary" }, ctx).environment;
    expect(() => engine.tagRevision(env, { revision_id: REV_B, tag: "canary" }, ctx)).toThrow(
      /is already tagged "canary"/,
    );
    const moved = engine.tagRevision(env, { revision_id: REV_B, tag: "canary", move: true }, ctx);
    expect(moved.result).toMatchObject({ outcome: "moved", moved_from: REV_A });
  });
});
