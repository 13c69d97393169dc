import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { singleVm } from "./fixture.js";

describe("op single-vm rollback", () => {
  it("exit 4 when there is no previous bundle", () => {
    const f = singleVm();
    f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    const r = f.op(["rollback", "--spec", f.spec, "--root", f.root, "--json"]);
    expect(r.status).toBe(4);
    expect(r.errorJson).toMatchObject({ op: "rollback", noun: "single-vm", error: { kind: "not-found" } });
  });

  it("mounts the previous bundle again", () => {
    const f = singleVm();
    const v1 = f.ok(["apply", "--spec", f.spec, "--root", f.root]).bundleDigest;
    writeFileSync(f.bundle, "bundle v2\n");
    const v2 = f.ok(["apply", "--spec", f.spec, "--root", f.root]).bundleDigest;
    expect(v2).not.toBe(v1);
    const r = f.ok(["rollback", "--spec", f.spec, "--root", f.root]);
    expect(r.bundleDigest).toBe(v1);
    const state = JSON.parse(readFileSync(join(f.root, "var/lib/greentic/acme/state/single-vm-state.json"), "utf8"));
    expect(state).toMatchObject({
      bundleDigest: v1,
      previousBundleDigest: v2,
      lastResult: { action: "rollback", ok: true },
    });
    expect(readFileSync(join(f.root, "etc/systemd/system/mnt-greentic-bundles-acme.mount"), "utf8")).toContain(
      `What=/var/lib/greentic/acme/bundles/${v1.slice(7)}.gtbundle`,
    );
  });

  it("an apply after a bundle change keeps the previous bundle, plans nothing, and rollback still works", () => {
    const f = singleVm();
    const bundles = join(f.root, "var/lib/greentic/acme/bundles");
    const v1 = f.ok(["apply", "--spec", f.spec, "--root", f.root]).bundleDigest;
    writeFileSync(f.bundle, "bundle v2\n");
    const v2 = f.ok(["apply", "--spec", f.spec, "--root", f.root]).bundleDigest;
    const again = f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    expect(again).toMatchObject({ changed: false, actions: [] });
    expect(f.ok(["plan", "--spec", f.spec, "--root", f.root])).toMatchObject({ changes: false, actions: [] });
    expect(existsSync(join(bundles, `${v1.slice(7)}.gtbundle`))).toBe(true);
    const back = f.ok(["rollback", "--spec", f.spec, "--root", f.root]);
    expect(back.bundleDigest).toBe(v1);
    // A third bundle: the one mounted before it (v1) stays for rollback, v2 goes.
    writeFileSync(f.bundle, "bundle v3\n");
    const v3 = f.ok(["apply", "--spec", f.spec, "--root", f.root]).bundleDigest;
    f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    expect(readFileSync(join(f.root, "var/lib/greentic/acme/state/single-vm-state.json"), "utf8")).toContain(
      `"previousBundleDigest": "${v1}"`,
    );
    expect(existsSync(join(bundles, `${v1.slice(7)}.gtbundle`))).toBe(true);
    expect(existsSync(join(bundles, `${v2.slice(7)}.gtbundle`))).toBe(false);
    expect(existsSync(join(bundles, `${v3.slice(7)}.gtbundle`))).toBe(true);
  });
});
