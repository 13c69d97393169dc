import { describe, expect, it } from "vitest";
import { canonicalDigest } from "./canonical.js";
import { GreenticError } from "./errors.js";
import {
  assertPrecondition,
  checkPrecondition,
  computeEtag,
  computeIntegrity,
  formatEtag,
  parseEtag,
  verifyIntegrity,
} from "./remote.js";

const doc = { b: [1, 2], a: { y: true, x: null } };
const DIGEST = canonicalDigest(doc);

function caught(fn: () => unknown): GreenticError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GreenticError) return e;
    throw e;
  }
  throw new Error("expected a GreenticError");
}

describe("integrity", () => {
  it("is sha-256 over canonical JSON, whatever the key order", () => {
    expect(computeIntegrity(doc)).toEqual({ algorithm: "sha-256", digest: DIGEST });
    expect(DIGEST).toBe(canonicalDigest({ a: { x: null, y: true }, b: [1, 2] }));
    expect(() => verifyIntegrity({ a: { x: null, y: true }, b: [1, 2] }, computeIntegrity(doc))).not.toThrow();
  });
  it("refuses a mismatch and an unknown algorithm", () => {
    const err = caught(() => verifyIntegrity({ ...doc, b: [2, 1] }, computeIntegrity(doc), "backup b1"));
    expect(err.kind).toBe("integrity");
    expect(err.details).toEqual({
      code: "integrity-mismatch",
      expected: DIGEST,
      actual: canonicalDigest({ ...doc, b: [2, 1] }),
    });
    const algo = caught(() => verifyIntegrity(doc, { algorithm: "md5", digest: DIGEST }, "backup b1"));
    expect(algo.message).toBe('backup b1: unknown integrity algorithm "md5"');
  });
});

describe("ETags", () => {
  it("formats and parses the strong quoted form", () => {
    expect(computeEtag(doc)).toBe(DIGEST);
    expect(formatEtag(DIGEST)).toBe(`"${DIGEST}"`);
    expect(parseEtag(`"${DIGEST}"`)).toBe(DIGEST);
    expect(parseEtag(` ${DIGEST} `)).toBe(DIGEST);
  });
  it.each([
    [`W/"${"a".repeat(64)}"`, `weak ETag W/"${"a".repeat(64)}" is not accepted; a strong validator is required`],
    ["*", 'If-Match "*" is not accepted; pin the exact ETag'],
    ['"abc"', 'ETag "\\"abc\\"" is not a quoted SHA-256 hex digest'],
    [`"${"A".repeat(64)}"`, `ETag "\\"${"A".repeat(64)}\\"" is not a quoted SHA-256 hex digest`],
  ])("rejects %s", (header, message) => {
    const err = caught(() => parseEtag(header));
    expect([err.kind, err.message]).toEqual(["invalid-argument", message]);
  });
});

describe("preconditions", () => {
  const actual = { etag: DIGEST, generation: 4 };
  it("requires a pin", () => {
    expect(checkPrecondition(undefined, actual)).toEqual({ status: "required" });
    expect(checkPrecondition({}, actual)).toEqual({ status: "required" });
    const err = caught(() => assertPrecondition({}, actual));
    expect([err.kind, err.details]).toEqual(["precondition-failed", { code: "precondition-required" }]);
  });
  it("passes when every pinned value matches", () => {
    expect(checkPrecondition({ if_match: formatEtag(DIGEST) }, actual)).toEqual({ status: "ok" });
    expect(checkPrecondition({ expected_generation: 4 }, actual)).toEqual({ status: "ok" });
    expect(checkPrecondition({ if_match: DIGEST, expected_generation: 4 }, actual)).toEqual({ status: "ok" });
  });
  it("reports a conflict with expected and actual", () => {
    const other = "e".repeat(64);
    expect(checkPrecondition({ if_match: formatEtag(other) }, actual)).toEqual({
      status: "conflict",
      expected_etag: other,
      actual_etag: DIGEST,
      actual_generation: 4,
    });
    expect(checkPrecondition({ if_match: DIGEST, expected_generation: 3 }, actual)).toEqual({
      status: "conflict",
      expected_etag: DIGEST,
      actual_etag: DIGEST,
      expected_generation: 3,
      actual_generation: 4,
    });
    const err = caught(() => assertPrecondition({ expected_generation: 3 }, actual, "environment local"));
    expect(err.kind).toBe("precondition-failed");
    expect(err.details).toEqual({
      code: "concurrency-conflict",
      actual_etag: DIGEST,
      expected_generation: 3,
      actual_generation: 4,
    });
  });
  it("rejects a weak If-Match inside a precondition", () => {
    expect(caught(() => checkPrecondition({ if_match: `W/"${DIGEST}"` }, actual)).kind).toBe("invalid-argument");
  });
});
