import { describe, expect, it } from "vitest";
import { requestLogLine, ringAfter } from "./logs.js";

describe("requestLogLine", () => {
  // Lines as HAProxy writes them to the ring with proxy.ts's log-format.
  it.each([
    [
      "r_01JD2W5X7Q4M0000000000000A 200 3 1795997217080 10.0.0.9 GET /shop/cart",
      "10.0.0.9 GET /shop/cart 200 3 ms revision 01JD2W5X7Q4M0000000000000A",
    ],
    ["gt_none 503 0 1795997217080 127.0.0.1 POST /", "127.0.0.1 POST / 503 0 ms no revision (503)"],
    ["gt_unrouted 404 1 1795997217080 ::1 GET /nowhere", "::1 GET /nowhere 404 1 ms no route"],
    [
      "r_01JD2W5X7Q4M0000000000000A -1 -1 1795997217080 10.0.0.9 GET /slow",
      "10.0.0.9 GET /slow -1 -1 ms revision 01JD2W5X7Q4M0000000000000A",
    ],
  ])("%s", (raw, line) => {
    expect(requestLogLine(raw)).toEqual({ source: "router", ts: "2026-11-30T00:06:57.080Z", line });
  });

  it("for one revision: its backend's requests only, under its name", () => {
    const rev = "01JD2W5X7Q4M0000000000000A";
    expect(requestLogLine(`r_${rev} 500 12 1795997217080 10.0.0.9 GET /shop/cart`, rev)).toEqual({
      source: rev,
      ts: "2026-11-30T00:06:57.080Z",
      line: "10.0.0.9 GET /shop/cart 500 12 ms via router",
    });
    expect(requestLogLine("r_01JD2W5X7Q4M0000000000000B 200 3 1795997217080 10.0.0.9 GET /", rev)).toBeUndefined();
    expect(requestLogLine(`r_${rev}0 200 3 1795997217080 10.0.0.9 GET /`, rev)).toBeUndefined();
    expect(requestLogLine("gt_none 503 0 1795997217080 127.0.0.1 GET /", rev)).toBeUndefined();
  });

  it("skips what is not a request line (the ring's older, shorter format; a cut line)", () => {
    expect(requestLogLine("r_01JD2W5X7Q4M0000000000000A 200 3 1795997217080")).toBeUndefined();
    expect(requestLogLine("")).toBeUndefined();
  });
});

describe("ringAfter", () => {
  const a = "r_A 200 1 1795997217080 127.0.0.1 GET /a";
  const b = "r_A 200 1 1795997217081 127.0.0.1 GET /b";
  const c = "r_A 200 1 1795997217082 127.0.0.1 GET /c";
  const d = "r_A 200 1 1795997217083 127.0.0.1 GET /d";

  it("gives the lines written since the last one read", () => {
    expect(ringAfter([a, b, c], { n: 2, l: b })).toEqual([c]);
    expect(ringAfter([a, b], { n: 2, l: b })).toEqual([]);
    expect(ringAfter([a], { n: 0, l: null })).toEqual([a]);
  });

  it("finds the last line read after the ring wrapped (its oldest lines dropped)", () => {
    expect(ringAfter([b, c, d], { n: 2, l: b })).toEqual([c, d]);
  });

  it("gives every line of a new ring (HAProxy reloaded) that lacks the last line read", () => {
    expect(ringAfter([d], { n: 3, l: c })).toEqual([d]);
    expect(ringAfter([], { n: 3, l: c })).toEqual([]);
  });
});
