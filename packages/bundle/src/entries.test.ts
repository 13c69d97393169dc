import { describe, expect, test } from "vitest";
import { EntryChecker, symlinkEscape } from "./entries.js";
import { DEFAULT_BUNDLE_LIMITS } from "./limits.js";

describe("symlinkEscape", () => {
  test.each([
    [0, "a/b", undefined],
    [1, "../a", undefined],
    [1, "./../x", undefined],
    [0, "../a", "climbs above the bundle root"],
    [2, "../../../x", "climbs above the bundle root"],
    [0, "/etc", "is absolute"],
    [0, "b/..", "uses '..' after a normal component"],
    [3, "a/../b", "uses '..' after a normal component"],
  ])("depth %i, %j -> %s", (depth, target, expected) => {
    expect(symlinkEscape(depth, target)).toBe(expected);
  });
});

describe("EntryChecker", () => {
  const checker = () => new EntryChecker("test.tar", { ...DEFAULT_BUNDLE_LIMITS }, 1000);

  test("normalises paths and skips the root directory", () => {
    const c = checker();
    expect(c.add({ path: "./", type: "dir", size: 0, mode: 0o755 })).toBeNull();
    expect(c.add({ path: "./a//b/", type: "dir", size: 0, mode: 0o755 })).toEqual({
      path: "a/b",
      type: "dir",
      size: 0,
      mode: 0o755,
    });
  });

  test("an explicit directory after an implied one is fine; a second explicit one is a duplicate", () => {
    const c = checker();
    c.add({ path: "a/x", type: "file", size: 1, mode: 0o644 });
    expect(c.add({ path: "a/", type: "dir", size: 0, mode: 0o755 })?.path).toBe("a");
    expect(() => c.add({ path: "a", type: "dir", size: 0, mode: 0o755 })).toThrow(/appears more than once/);
  });

  test("a symlink over an implied directory is a duplicate", () => {
    const c = checker();
    c.add({ path: "a/x", type: "file", size: 1, mode: 0o644 });
    expect(() => c.add({ path: "a", type: "symlink", size: 0, mode: 0o777, linkTarget: "b" })).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ code: "duplicate-path" }) }),
    );
  });

  test("the ratio is only checked above the floor", () => {
    const c = new EntryChecker("t", { ...DEFAULT_BUNDLE_LIMITS, ratioFloorBytes: 10_000, maxRatio: 2 }, 100);
    expect(c.add({ path: "small", type: "file", size: 9_000, mode: 0o644 })?.size).toBe(9_000);
    expect(() => c.add({ path: "big", type: "file", size: 2_000, mode: 0o644 })).toThrow(/ratio 110\.0, limit 2/);
  });
});
