import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { singleVm, specYaml } from "./fixture.js";

describe("op single-vm plan", () => {
  it("on a fresh staging root lists the create actions, writes nothing, and --detailed-exitcode gives 2", () => {
    const f = singleVm();
    const plan = f.ok(["plan", "--spec", f.spec, "--root", f.root]);
    expect(plan).toMatchObject({ deployment: "acme", mode: "native", changes: true, exitCode: 2 });
    expect(new Set(plan.actions.map((a: { action: string }) => a.action))).toEqual(new Set(["create", "restart"]));
    const created = plan.actions
      .filter((a: { action: string }) => a.action === "create")
      .map((a: { resource: string; target: string }) => `${a.resource} ${a.target}`);
    expect(created).toEqual(
      expect.arrayContaining([
        "user greentic",
        "dir /var/lib/greentic/acme/state",
        "certificates /etc/greentic/acme/admin/server.crt",
        "file /etc/systemd/system/greentic-acme.service",
        "file /etc/systemd/system/mnt-greentic-bundles-acme.mount",
        "file /etc/greentic/acme/runtime.env",
        "state /var/lib/greentic/acme/state/single-vm-state.json",
      ]),
    );
    expect(readdirSync(f.root)).toEqual([]);

    const human = f.op(["plan", "--spec", f.spec, "--root", f.root, "--detailed-exitcode"]);
    expect(human.status, human.stderr).toBe(2);
    expect(human.stdout).toContain(`Staging root ${f.root}`);
    expect(human.stdout).toMatch(/acme: \d+ to create, 0 to update, 0 to delete, 2 to restart\./);
    expect(human.stdout).toContain("create  file         /etc/systemd/system/greentic-acme.service");
    expect(human.stderr).toBe("");
  });

  it("after apply --root, plan converges: no actions and --detailed-exitcode 0", () => {
    const f = singleVm();
    f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    expect(f.ok(["plan", "--spec", f.spec, "--root", f.root]).actions).toEqual([]);
    expect(f.op(["plan", "--spec", f.spec, "--root", f.root, "--detailed-exitcode"]).status).toBe(0);
  });

  it("--out saves a plan file that names the observed state and digests", () => {
    const f = singleVm();
    const out = join(f.dir, "plan.json");
    const r = f.ok(["plan", "--spec", f.spec, "--root", f.root, "--out", out]);
    expect(r.savedTo).toBe(out);
    const saved = JSON.parse(readFileSync(out, "utf8"));
    expect(saved).toMatchObject({
      schema: "greentic.single-vm-plan.v1",
      deployment: "acme",
      observedFingerprint: r.observedFingerprint,
      bundleDigest: r.bundleDigest,
      specDigest: r.specDigest,
    });
  });

  it("takes the spec from stdin and as a positional argument", () => {
    const f = singleVm();
    const fromStdin = f.ok(["plan", "--spec", "-", "--root", f.root], { input: readFileSync(f.spec, "utf8") });
    const positional = f.ok(["plan", f.spec, "--root", f.root]);
    expect(fromStdin.specDigest).toBe(positional.specDigest);
  });

  it("--detailed-exitcode turns every error into 1 (2 means changes pending there)", () => {
    const f = singleVm();
    const bad = f.file("bad.yaml", specYaml({ bundle: f.bundle, runtime: f.runtime, adminBind: "0.0.0.0:8433" }));
    expect(f.op(["plan", "--spec", bad, "--root", f.root]).status).toBe(2);
    const r = f.op(["plan", "--spec", bad, "--root", f.root, "--detailed-exitcode", "--json"]);
    expect(r.status).toBe(1);
    expect(r.errorJson.error.kind).toBe("validation");
    const missing = f.op(["plan", "--spec", f.spec, "--root", f.root, "--detailed-exitcode", "--bogus"]);
    expect(missing.status).toBe(1);
  });

  it("a missing bundle file is not-found (exit 4) naming spec.bundle.source", () => {
    const f = singleVm();
    const spec = f.file("gone.yaml", specYaml({ bundle: join(f.dir, "gone.gtbundle"), runtime: f.runtime }));
    const r = f.op(["plan", "--spec", spec, "--root", f.root, "--json"]);
    expect(r.status).toBe(4);
    expect(r.errorJson.error).toMatchObject({ kind: "not-found", path: "spec.bundle.source" });
  });

  it("refuses --root / (the real host)", () => {
    const f = singleVm();
    const r = f.op(["plan", "--spec", f.spec, "--root", "/", "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error.message).toContain("--root /");
  });
});
