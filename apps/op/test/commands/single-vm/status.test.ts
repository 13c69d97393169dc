import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { singleVm } from "./fixture.js";

describe("op single-vm status", () => {
  it("not-installed on a fresh root; after a staged apply, the state and drift of the generated files", () => {
    const f = singleVm();
    expect(f.ok(["status", "--spec", f.spec, "--root", f.root])).toMatchObject({
      deployment: "acme",
      status: "not-installed",
      drift: [],
      state: null,
    });
    const applied = f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    const s = f.ok(["status", f.spec, "--root", f.root]);
    expect(s).toMatchObject({
      bundleDigest: applied.bundleDigest,
      mountedBundleDigest: applied.bundleDigest,
      drift: [],
      units: null,
    });
    expect(s.state.lastResult).toMatchObject({ action: "apply", ok: true });

    appendFileSync(join(f.root, "etc/systemd/system/greentic-acme.service"), "# edited by hand\n");
    const drifted = f.ok(["status", "--spec", f.spec, "--root", f.root]);
    expect(drifted.drift).toEqual([{ path: "/etc/systemd/system/greentic-acme.service", problem: "changed" }]);
    const human = f.op(["status", "--spec", f.spec, "--root", f.root]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^drift: +\/etc\/systemd\/system\/greentic-acme\.service changed$/m);
    expect(human.stdout).toMatch(/^last result: +apply ok at /m);
  });
});
