import { describe, expect, it } from "vitest";
import { UNKNOWN_ULID, digestTree, store } from "../../helpers.js";

// The rollout itself runs against HAProxy in the systemd testbed
// (packages/adapter-single-vm/test/rollout.e2e.test.ts); here: what `op` refuses, and that a
// refusal leaves the store exactly as it was.
describe("op rollout: refusals leave the store as it was", () => {
  it("bad steps, interval or rate exit 2 naming the flag; a deployer that supervises no runner exits 3 without --foreground", () => {
    const s = store();
    s.ok(["env", "init", "local"]);
    const before = digestTree(s.root);
    const cases: Array<[string[], number, string]> = [
      [["--steps", "1,25,5,100"], 2, "--steps 1,25,5,100: 5 does not come after 25 (steps must increase)"],
      [["--steps", "1,5,150"], 2, "--steps 1,5,150: 150 is outside 0 (exclusive) to 100"],
      [["--steps", "1,50"], 2, "--steps 1,50: the last step must be 100"],
      [["--interval", "soon"], 2, "--interval soon: not a duration"],
      [["--max-error-rate", "lots"], 2, "--max-error-rate lots: not a rate between 0 and 100%"],
      [["--max-p99", "fast"], 2, "--max-p99 fast: not a duration"],
      // The local deployer counts per revision, but supervises no runner: only --foreground.
      [[], 3, "environment local's deployer cannot run a rollout in the background (no supervised runner)"],
      [["--foreground"], 4, "environment local has no deployments"],
    ];
    for (const [flags, exit, message] of cases) {
      const r = s.op(["rollout", "start", "local", "--to", "latest", ...flags, "--json"]);
      expect({ status: r.status, message: r.errorJson?.error?.message }, flags.join(" ")).toEqual({
        status: exit,
        message,
      });
    }
    expect(s.op(["rollout", "start", "local", "--to", "latest"]).stderr).toContain(
      "Hint: run it in this process: op rollout start --foreground",
    );
    const missing = s.op(["rollout", "start", "local"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("Missing required flag to");
    expect(digestTree(s.root)).toBe(before);
  });

  it("status, pause, resume and abort: no rollout exits 4, a malformed id exits 2, an unknown one 4", () => {
    const s = store();
    s.ok(["env", "init", "local"]);
    // The first read makes the environment's (empty) rollouts area; nothing else changes.
    expect(s.op(["rollout", "status", "local"]).status).toBe(4);
    const before = digestTree(s.root);
    for (const verb of ["status", "pause", "resume", "abort"]) {
      const none = s.op(["rollout", verb, "local", "--json"]);
      expect({ status: none.status, error: none.errorJson?.error }, verb).toEqual({
        status: 4,
        error: {
          kind: "not-found",
          message: "environment local has no rollout",
          hint: "start one with `op rollout start local --to REVISION`",
        },
      });
      const bad = s.op(["rollout", verb, "local", "not-a-ulid"]);
      expect(bad.status, verb).toBe(2);
      expect(bad.stderr).toContain('rollout id "not-a-ulid" is not a ULID');
      // A lone ULID is the rollout, in the default environment.
      const unknown = s.op(["rollout", verb, UNKNOWN_ULID], { env: { GREENTIC_ENV: "local" } });
      expect(unknown.status, verb).toBe(4);
      expect(unknown.stderr).toContain(`rollout ${UNKNOWN_ULID} does not exist in environment local`);
    }
    expect(s.op(["rollout", "status", "nowhere"]).status).toBe(4);
    expect(digestTree(s.root)).toBe(before);
  });

  it("run: a rollout whose environment is gone ends at once with exit 0 (its unit must not restart)", () => {
    const s = store();
    const r = s.op(["rollout", "run", "gone", UNKNOWN_ULID, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json.result.rollout).toBeNull();
    expect(r.json.result.reason).toMatch(/gone/);
  });
});
