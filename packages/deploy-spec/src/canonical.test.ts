import { describe, expect, it } from "vitest";
import { canonicalDigest, canonicalJson } from "./canonical.js";

describe("canonicalJson", () => {
  it("sorts keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
  });
  it("gives the same digest whatever the key order", () => {
    expect(canonicalDigest({ x: 1, y: "z" })).toBe(canonicalDigest({ y: "z", x: 1 }));
    expect(canonicalDigest({})).toBe("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  });
  it("refuses non-finite numbers", () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite number at a/);
  });
});
