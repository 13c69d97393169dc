import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digestTree } from "../../helpers.js";
import { singleVm } from "./fixture.js";

describe("op single-vm apply", () => {
  it("--spec FILE --root renders the deployment under the root, lists the commands, executes nothing", () => {
    const f = singleVm();
    const r = f.op(["apply", "--spec", f.spec, "--root", f.root]);
    expect(r.status, r.stderr).toBe(0);
    // Progress on stderr, the result on stdout.
    expect(r.stderr).toContain(`Applying acme under staging root ${f.root}`);
    expect(r.stderr).toContain("  write /etc/systemd/system/greentic-acme.service");
    expect(r.stdout).toMatch(/^acme: applied \d+ to create/);
    expect(r.stdout).toContain("a real apply would run:\n  groupadd --system greentic\n");
    expect(r.stdout).toContain("  systemctl daemon-reload\n");
    for (const p of [
      "etc/systemd/system/greentic-acme.service",
      "etc/systemd/system/mnt-greentic-bundles-acme.mount",
      "etc/greentic/acme/runtime.env",
      "etc/greentic/acme/deployer/client.crt",
    ]) {
      expect(existsSync(join(f.root, p)), p).toBe(true);
    }
    const state = JSON.parse(readFileSync(join(f.root, "var/lib/greentic/acme/state/single-vm-state.json"), "utf8"));
    expect(state).toMatchObject({ deployment: "acme", lastResult: { action: "apply", ok: true } });
  });

  it("--json: the adapter's result in the envelope, no progress on stderr", () => {
    const f = singleVm();
    const r = f.op(["apply", "--spec", f.spec, "--root", f.root, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.json).toMatchObject({
      op: "apply",
      noun: "single-vm",
      result: { deployment: "acme", staging: true, changed: true },
    });
    expect(r.json.result.commands).toContain("systemctl daemon-reload");
  });

  it("applies a saved plan (positional or --plan) while the host is unchanged", () => {
    const f = singleVm();
    const plan = join(f.dir, "plan.json");
    f.ok(["plan", "--spec", f.spec, "--root", f.root, "--out", plan]);
    const r = f.ok(["apply", plan, "--root", f.root]);
    expect(r).toMatchObject({ deployment: "acme", changed: true });
    const other = singleVm();
    const plan2 = join(other.dir, "plan.json");
    other.ok(["plan", "--spec", other.spec, "--root", other.root, "--out", plan2]);
    expect(other.ok(["apply", "--plan", plan2, "--root", other.root]).changed).toBe(true);
  });

  it('refuses a stale plan: exit 3, "plan is stale", the root untouched', () => {
    const f = singleVm();
    const plan = join(f.dir, "plan.json");
    f.ok(["plan", "--spec", f.spec, "--root", f.root, "--out", plan]);
    // Someone changes the host between plan and apply.
    f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    writeFileSync(join(f.root, "etc/greentic/acme/runtime.env"), "GREENTIC_PUBLIC_BIND=0.0.0.0:80\n");
    const before = digestTree(f.root);
    for (const json of [false, true]) {
      const r = f.op(["apply", plan, "--root", f.root, ...(json ? ["--json"] : [])]);
      expect(r.status, r.stderr).toBe(3);
      expect(r.stdout).toBe("");
      if (json) {
        expect(r.errorJson).toMatchObject({ op: "apply", noun: "single-vm", error: { kind: "precondition-failed" } });
        expect(r.errorJson.error.message).toMatch(/^plan is stale: /);
      } else {
        expect(r.stderr).toContain("Error: plan is stale: ");
        expect(r.stderr).toContain("Hint: run `op single-vm plan` again");
      }
    }
    expect(digestTree(f.root)).toBe(before);
  });

  it("refuses a plan made for another bundle (exit 3)", () => {
    const f = singleVm();
    const plan = join(f.dir, "plan.json");
    f.ok(["plan", "--spec", f.spec, "--root", f.root, "--out", plan]);
    writeFileSync(f.bundle, "bundle v2\n");
    const r = f.op(["apply", plan, "--root", f.root, "--json"]);
    expect(r.status).toBe(3);
    expect(r.errorJson.error.message).toContain("plan is stale: the bundle is now");
  });

  it("usage errors: nothing to apply, spec and plan together, a file that is neither", () => {
    const f = singleVm();
    expect(f.op(["apply", "--root", f.root]).status).toBe(2);
    const both = f.op(["apply", "--spec", f.spec, "--plan", f.spec, "--root", f.root, "--json"]);
    expect(both.status).toBe(2);
    expect(both.errorJson.error.message).toContain("not");
    const notPlan = f.file("not-a-plan.json", '{"schema": "something-else"}');
    const r = f.op(["apply", "--plan", notPlan, "--root", f.root, "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error.message).toContain("greentic.single-vm-plan.v1");
    expect(readdirSync(f.root)).toEqual([]);
  });
});
