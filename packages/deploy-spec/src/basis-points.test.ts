import { describe, expect, it } from "vitest";
import { checkWeightedEntries, parseTrafficEntry, parseWeight, percentToBasisPoints } from "./basis-points.js";
import { GreenticError } from "./errors.js";

const e = (...weights: unknown[]) => weights.map((w, i) => ({ revision_id: `r${i}`, weight_bps: w }));

describe("checkWeightedEntries", () => {
  it("accepts a single 10000 entry and 0-weight entries", () => {
    expect(checkWeightedEntries(e(10000))).toEqual([]);
    expect(checkWeightedEntries(e(10000, 0))).toEqual([]);
    expect(checkWeightedEntries(e(3333, 3333, 3334))).toEqual([]);
  });
  it("rejects 10001 alone as too large, without a sum issue", () => {
    expect(checkWeightedEntries(e(10001))).toEqual([
      {
        path: "0.weight_bps",
        code: "basis-points-entry-too-large",
        message: "weight 10001 exceeds 10000 basis points",
      },
    ]);
  });
  it("does not let 4294967295 + 10001 wrap around to 10000", () => {
    expect(checkWeightedEntries(e(4294967295, 10001))).toEqual([
      {
        path: "0.weight_bps",
        code: "basis-points-entry-too-large",
        message: "weight 4294967295 exceeds 10000 basis points",
      },
      {
        path: "1.weight_bps",
        code: "basis-points-entry-too-large",
        message: "weight 10001 exceeds 10000 basis points",
      },
    ]);
  });
  it("rejects a sum of 9999", () => {
    expect(checkWeightedEntries(e(9999))).toEqual([
      {
        path: "",
        code: "basis-points-sum",
        message: "weights sum to 9999 basis points; they must sum to exactly 10000",
      },
    ]);
  });
  it("rejects negatives, fractions, NaN and strings with their own codes", () => {
    expect(checkWeightedEntries(e(-1, 10001)).map((i) => i.code)).toEqual([
      "weight-negative",
      "basis-points-entry-too-large",
    ]);
    expect(checkWeightedEntries(e(50.5, 9949.5))).toEqual([
      {
        path: "0.weight_bps",
        code: "weight-not-integer",
        message: "weight 50.5 is not a whole number of basis points",
      },
      {
        path: "1.weight_bps",
        code: "weight-not-integer",
        message: "weight 9949.5 is not a whole number of basis points",
      },
    ]);
    expect(checkWeightedEntries(e(Number.NaN))).toEqual([
      {
        path: "0.weight_bps",
        code: "weight-not-a-number",
        message: "weight is NaN; expected an integer number of basis points 0..10000",
      },
    ]);
    expect(checkWeightedEntries(e("10000"))).toEqual([
      {
        path: "0.weight_bps",
        code: "weight-type",
        message: 'weight must be a number of basis points, got string "10000"',
      },
    ]);
  });
  it("rejects a duplicate revision id", () => {
    const issues = checkWeightedEntries([
      { revision_id: "a", weight_bps: 5000 },
      { revision_id: "a", weight_bps: 5000 },
    ]);
    expect(issues).toEqual([
      { path: "1.revision_id", code: "duplicate-entry", message: 'revision_id "a" appears twice (entries 0 and 1)' },
    ]);
  });
  it("rejects an empty list as a sum of 0", () => {
    expect(checkWeightedEntries([]).map((i) => i.message)).toEqual([
      "weights sum to 0 basis points; they must sum to exactly 10000",
    ]);
  });
});

describe("percentToBasisPoints", () => {
  it("converts exactly", () => {
    expect(percentToBasisPoints(50.5)).toEqual({ ok: true, bps: 5050 });
    expect(percentToBasisPoints(0.07)).toEqual({ ok: true, bps: 7 });
    expect(percentToBasisPoints(100)).toEqual({ ok: true, bps: 10000 });
    expect(percentToBasisPoints(0)).toEqual({ ok: true, bps: 0 });
    expect(percentToBasisPoints(33.33)).toEqual({ ok: true, bps: 3333 });
  });
  it("refuses values that are not whole basis points or out of range", () => {
    expect(percentToBasisPoints(100 / 3)).toEqual({
      ok: false,
      code: "weight-percent-precision",
      message: "weight 33.333333333333336% is not a whole number of basis points (0.01%)",
    });
    expect(percentToBasisPoints(1e-7)).toMatchObject({ ok: false, code: "weight-percent-precision" });
    expect(percentToBasisPoints(100.01)).toMatchObject({ ok: false, code: "weight-percent-range" });
    expect(percentToBasisPoints(-5)).toMatchObject({ ok: false, code: "weight-negative" });
    expect(percentToBasisPoints(Number.NaN)).toMatchObject({ ok: false, code: "weight-not-a-number" });
    expect(percentToBasisPoints(Number.POSITIVE_INFINITY)).toMatchObject({ ok: false, code: "weight-percent-range" });
    expect(percentToBasisPoints(true)).toMatchObject({ ok: false, code: "weight-type" });
  });
});

describe("parseWeight / parseTrafficEntry (CLI forms)", () => {
  it("reads N and N% as percent and Nbps as basis points", () => {
    expect(parseWeight("50")).toBe(5000);
    expect(parseWeight("50.5%")).toBe(5050);
    expect(parseWeight("5050bps")).toBe(5050);
    expect(parseWeight("0bps")).toBe(0);
    expect(parseWeight("100%")).toBe(10000);
    expect(parseTrafficEntry("01J00000000000000000000001=25%")).toEqual({
      revision_id: "01J00000000000000000000001",
      weight_bps: 2500,
    });
  });
  it.each([
    ["33.333%", "weight-percent-precision", "weight 33.333% is not a whole number of basis points (0.01%)"],
    ["101", "weight-percent-range", "weight 101% exceeds 100%"],
    ["10001bps", "basis-points-entry-too-large", "weight 10001 exceeds 10000 basis points"],
    ["50.5bps", "weight-syntax", 'weight "50.5bps": basis points must be a whole number before "bps"'],
    ["-5", "weight-syntax", 'weight "-5" is not a decimal number'],
    ["abc", "weight-syntax", 'weight "abc" is not a decimal number'],
    ["", "weight-syntax", 'weight "" is not a decimal number'],
  ])("rejects %j (%s)", (text, code, message) => {
    let err: unknown;
    try {
      parseWeight(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GreenticError);
    expect((err as GreenticError).kind).toBe("invalid-argument");
    expect((err as GreenticError).details).toEqual({ code, value: text });
    expect((err as GreenticError).message).toBe(message);
  });
  it.each(["noequals", "=50", "rid="])("rejects the entry %j", (text) => {
    expect(() => parseTrafficEntry(text)).toThrow(
      expect.objectContaining({ kind: "invalid-argument", details: { code: "entry-syntax", value: text } }),
    );
  });
});
