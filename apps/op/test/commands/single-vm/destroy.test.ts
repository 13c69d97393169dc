import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digestTree } from "../../helpers.js";
import { singleVm } from "./fixture.js";

describe("op single-vm destroy", () => {
  it("needs --confirm (exit 2, nothing removed)", () => {
    const f = singleVm();
    f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    const before = digestTree(f.root);
    const r = f.op(["destroy", "--spec", f.spec, "--root", f.root, "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error.message).toContain("--confirm");
    expect(digestTree(f.root)).toBe(before);
  });

  it("removes the units and generated files, keeps data; idempotent; --purge removes the data", () => {
    const f = singleVm();
    f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    const r = f.ok(["destroy", "--spec", f.spec, "--root", f.root, "--confirm"]);
    expect(r.changed).toBe(true);
    expect(r.removed).toEqual(
      expect.arrayContaining([
        "/etc/systemd/system/greentic-acme.service",
        "/etc/systemd/system/mnt-greentic-bundles-acme.mount",
        "/var/lib/greentic/acme/bundles",
      ]),
    );
    expect(r.kept).toEqual(expect.arrayContaining(["/var/lib/greentic/acme/state", "/etc/greentic/acme"]));
    expect(existsSync(join(f.root, "etc/systemd/system/greentic-acme.service"))).toBe(false);
    expect(existsSync(join(f.root, "var/lib/greentic/acme/state"))).toBe(true);

    const again = f.op(["destroy", "--spec", f.spec, "--root", f.root, "--confirm"]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("acme: nothing to destroy.");
    expect(again.stdout).toContain("Kept (--purge removes them)");

    const purged = f.ok(["destroy", "--spec", f.spec, "--root", f.root, "--confirm", "--purge"]);
    expect(purged.removed).toEqual(expect.arrayContaining(["/var/lib/greentic/acme/state", "/etc/greentic/acme"]));
    expect(existsSync(join(f.root, "var/lib/greentic/acme"))).toBe(false);
    expect(existsSync(join(f.root, "etc/greentic/acme"))).toBe(false);
  });
});
