import { describe, expect, it } from "vitest";
import { GreenticError } from "./errors.js";
import { LIFECYCLE_STATES, canTransition, transitionRevision, type LifecycleState } from "./lifecycle.js";

// The reference matrix (§1.3), row = from, columns in LIFECYCLE_STATES order:
// inactive, staged, warming, ready, draining, failed, archived.
const MATRIX: Record<LifecycleState, string> = {
  inactive: "0100011",
  staged: "0010011",
  warming: "0001011",
  ready: "0000111",
  draining: "1000000",
  failed: "0100001",
  archived: "0000000",
};

describe("canTransition", () => {
  for (const from of LIFECYCLE_STATES) {
    for (const [j, to] of LIFECYCLE_STATES.entries()) {
      const allowed = MATRIX[from][j] === "1";
      it(`${from} -> ${to} is ${allowed ? "allowed" : "refused"}`, () => {
        expect(canTransition(from, to)).toBe(allowed);
      });
    }
  }
  it("has exactly 15 allowed edges, no self-transitions, archived terminal", () => {
    const edges = LIFECYCLE_STATES.flatMap((f) =>
      LIFECYCLE_STATES.filter((t) => canTransition(f, t)).map((t) => `${f}>${t}`),
    );
    expect(edges).toHaveLength(15);
    expect(LIFECYCLE_STATES.some((s) => canTransition(s, s))).toBe(false);
    expect(LIFECYCLE_STATES.filter((t) => canTransition("archived", t))).toEqual([]);
    expect(LIFECYCLE_STATES.filter((t) => canTransition("draining", t))).toEqual(["inactive"]);
  });
});

describe("transitionRevision", () => {
  const rev = { revision_id: "01J00000000000000000000001", lifecycle: "staged" as LifecycleState };
  it("returns a new revision and stamps warmed_at on ready", () => {
    const warming = transitionRevision(rev, "warming", "2026-07-01T00:00:00Z");
    expect(warming).toEqual({ ...rev, lifecycle: "warming" });
    expect(rev.lifecycle).toBe("staged");
    expect(transitionRevision(warming, "ready", "2026-07-01T00:00:01Z")).toEqual({
      ...rev,
      lifecycle: "ready",
      warmed_at: "2026-07-01T00:00:01Z",
    });
  });
  it("throws a conflict naming both states and the allowed ones", () => {
    let caught: unknown;
    try {
      transitionRevision({ ...rev, lifecycle: "draining" }, "archived", "2026-07-01T00:00:00Z");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GreenticError);
    const err = caught as GreenticError;
    expect(err.kind).toBe("conflict");
    expect(err.message).toBe("revision 01J00000000000000000000001 cannot move from draining to archived");
    expect(err.hint).toBe("from draining it can move to: inactive");
    expect(err.details).toEqual({
      code: "invalid-lifecycle-transition",
      from: "draining",
      to: "archived",
      revision_id: "01J00000000000000000000001",
    });
  });
  it("a rollout's breached candidate: ready -> failed, then archived; never failed -> draining", () => {
    const ready = { ...rev, lifecycle: "ready" as LifecycleState };
    const failed = transitionRevision(ready, "failed", "2026-07-01T00:00:00Z");
    expect(failed).toEqual({ ...rev, lifecycle: "failed" });
    expect(() => transitionRevision(failed, "draining", "x")).toThrow(
      expect.objectContaining({
        kind: "conflict",
        message: "revision 01J00000000000000000000001 cannot move from failed to draining",
        hint: "from failed it can move to: staged, archived",
      }),
    );
    expect(transitionRevision(failed, "archived", "x")).toEqual({ ...rev, lifecycle: "archived" });
  });
  it("calls archived terminal", () => {
    expect(() => transitionRevision({ ...rev, lifecycle: "archived" }, "staged", "x")).toThrow(
      expect.objectContaining({ kind: "conflict", hint: "archived is terminal" }),
    );
  });
});
