import { describe, expect, it } from "vitest";
import { breachOf, parseDuration, parseRate, parseSteps, type RolloutRecord } from "./rollout.js";

function refused(fn: () => unknown): { kind: string; message: string; path?: string } {
  try {
    fn();
  } catch (error) {
    const e = error as { kind: string; message: string; path?: string };
    return { kind: e.kind, message: e.message, ...(e.path !== undefined ? { path: e.path } : {}) };
  }
  throw new Error("not refused");
}

describe("rollout inputs", () => {
  it("steps: percent with up to two decimals to basis points", () => {
    expect(parseSteps("1,5,25,50,100")).toEqual([100, 500, 2_500, 5_000, 10_000]);
    expect(parseSteps("0.01, 0.5%, 100%")).toEqual([1, 50, 10_000]);
    expect(parseSteps("100")).toEqual([10_000]);
  });

  it("steps out of order, above 100, at 0, not ending at 100 or not numbers are refused", () => {
    expect(refused(() => parseSteps("1,25,5,100"))).toEqual({
      kind: "invalid-argument",
      path: "steps",
      message: "--steps 1,25,5,100: 5 does not come after 25 (steps must increase)",
    });
    expect(refused(() => parseSteps("1,5,5,100")).message).toBe(
      "--steps 1,5,5,100: 5 does not come after 5 (steps must increase)",
    );
    expect(refused(() => parseSteps("1,150")).message).toBe("--steps 1,150: 150 is outside 0 (exclusive) to 100");
    expect(refused(() => parseSteps("0,100")).message).toBe("--steps 0,100: 0 is outside 0 (exclusive) to 100");
    expect(refused(() => parseSteps("1,50")).message).toBe("--steps 1,50: the last step must be 100");
    expect(refused(() => parseSteps("1,five,100")).message).toBe('--steps 1,five,100: "five" is not a percentage');
    expect(refused(() => parseSteps("0.001,100")).message).toBe('--steps 0.001,100: "0.001" is not a percentage');
  });

  it("durations and rates", () => {
    expect([
      parseDuration("500ms", "interval"),
      parseDuration("90s", "interval"),
      parseDuration("2m", "interval"),
    ]).toEqual([500, 90_000, 120_000]);
    expect(parseDuration("1.5h", "max-p99")).toBe(5_400_000);
    expect(refused(() => parseDuration("2 minutes", "interval"))).toEqual({
      kind: "invalid-argument",
      path: "interval",
      message: "--interval 2 minutes: not a duration",
    });
    expect(refused(() => parseDuration("0s", "interval")).message).toBe(
      "--interval 0s: must be above 0 and at most 24h",
    );
    expect(refused(() => parseDuration("25h", "interval")).message).toBe(
      "--interval 25h: must be above 0 and at most 24h",
    );
    expect([parseRate("1%"), parseRate("0.5%"), parseRate("0.01"), parseRate("0")]).toEqual([0.01, 0.005, 0.01, 0]);
    for (const bad of ["1.5", "101%", "-1%", "1%%", "one", ""])
      expect(
        refused(() => parseRate(bad)),
        bad,
      ).toEqual({
        kind: "invalid-argument",
        path: "max-error-rate",
        message: `--max-error-rate ${bad}: not a rate between 0 and 100%`,
      });
  });
});

describe("a rollout's verdict", () => {
  const record = { max_error_rate: 0.01, max_p99_ms: 800 } as RolloutRecord;
  const figures = (requests: number, errors: number, p99: number | null, ready: boolean | null = true) => ({
    revision_id: "R",
    requests,
    errors_5xx: errors,
    error_rate: requests === 0 ? 0 : errors / requests,
    p99_ms: p99,
    ready,
    ...(ready === false ? { ready_detail: "/ready answered 503" } : {}),
  });

  it("judges the error rate and p99 only with at least 20 requests", () => {
    expect(breachOf(record, figures(19, 19, 5_000), 0)).toBeUndefined();
    expect(breachOf(record, figures(200, 2, 100), 0)).toBeUndefined();
    expect(breachOf(record, figures(200, 3, 100), 0)).toBe("5xx rate 1.50% (3 of 200 requests) above 1.00%");
    expect(breachOf(record, figures(200, 0, 801), 0)).toBe("p99 801 ms over 200 requests above 800 ms");
    expect(breachOf({ ...record, max_p99_ms: null }, figures(200, 0, 5_000), 0)).toBeUndefined();
  });

  it("aborts on readiness after 3 failed checks in a row", () => {
    expect(breachOf(record, figures(0, 0, null, false), 2)).toBeUndefined();
    expect(breachOf(record, figures(0, 0, null, false), 3)).toBe("not ready in 3 checks in a row: /ready answered 503");
  });
});
