import { describe, expect, it } from "vitest";
import { op } from "../../helpers.js";

const verbs = ["init-spec", "plan", "apply", "destroy", "status", "rollback", "preflight", "cloud-init"];

describe("op single-vm --help", () => {
  it.each(verbs)("%s has real examples", (verb) => {
    const r = op(["single-vm", verb, "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("EXAMPLES");
    expect(r.stdout).toContain(`op single-vm ${verb}`);
  });

  it("plan documents the --detailed-exitcode codes", () => {
    const r = op(["single-vm", "plan", "--help"]);
    expect(r.stdout.replace(/\s+/g, " ")).toContain("0 no changes, 2 changes pending, 1 any error");
  });
});
