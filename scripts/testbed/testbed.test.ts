import { describe, expect, it } from "vitest";
import { inCi, testbedProblem, testbedUnavailable } from "./testbed.ts";

describe("testbedUnavailable", () => {
  it.each([
    [{ CI: "true" }, true],
    [{ CI: "1" }, true],
    [{ CI: "yes" }, true],
    [{ CI: "" }, false],
    [{ CI: "0" }, false],
    [{ CI: "false" }, false],
    [{}, false],
  ])("inCi(%j) is %s", (env, expected) => {
    expect(inCi(env)).toBe(expected);
  });

  it("skips outside CI and fails in CI when the testbed cannot run", () => {
    const problem = testbedProblem();
    expect(testbedUnavailable({})).toBe(problem);
    if (problem === undefined) {
      expect(testbedUnavailable({ CI: "true" })).toBeUndefined();
    } else {
      expect(() => testbedUnavailable({ CI: "true" })).toThrow(
        `the systemd testbed is required in CI but cannot run here: ${problem}`,
      );
    }
  });
});
