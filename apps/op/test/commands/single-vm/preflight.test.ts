import { describe, expect, it } from "vitest";
import { op } from "../../helpers.js";
import { singleVm, specYaml } from "./fixture.js";

describe("op single-vm preflight", () => {
  it("--json: {ok, checks[{name, ok, detail, hint?}], summary}; exit 1 exactly when a check fails", () => {
    const f = singleVm();
    const r = f.op(["preflight", "--spec", f.spec, "--json"]);
    expect(r.json).toMatchObject({ op: "preflight", noun: "single-vm" });
    const result = r.json.result;
    expect(Object.keys(result).sort()).toEqual(["checks", "ok", "summary"]);
    expect(result.checks.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining([
        "architecture",
        "systemd",
        "squashfs",
        "squashfs-tools",
        "node",
        "admin port",
        "service user",
      ]),
    );
    for (const c of result.checks) {
      expect(typeof c.ok).toBe("boolean");
      expect(typeof c.detail).toBe("string");
      if (!c.ok) expect(c.hint, c.name).toMatch(/\S/);
    }
    expect(result.ok).toBe(result.checks.every((c: { ok: boolean }) => c.ok));
    expect(r.status).toBe(result.ok ? 0 : 1);
    expect(r.stderr).toBe("");

    const human = f.op(["preflight", "--spec", f.spec]);
    expect(human.status).toBe(r.status);
    for (const c of result.checks)
      expect(human.stdout).toMatch(new RegExp(`^${c.ok ? "ok  " : "FAIL"}  ${c.name}`, "m"));
    for (const c of result.checks.filter((x: { ok: boolean }) => !x.ok))
      expect(human.stdout).toContain(`fix: ${c.hint}`);
  });

  it("does not ask for Node.js when the runtime is an executable (the release's greentic-runtime)", () => {
    const f = singleVm();
    const runtime = f.file("greentic-runtime", "#!/bin/sh\n");
    const spec = f.file("exe.yaml", specYaml({ bundle: f.bundle, runtime }));
    const r = f.op(["preflight", "--spec", spec, "--json"]);
    const names = r.json.result.checks.map((c: { name: string }) => c.name);
    expect(names).not.toContain("node");
    expect(names).toEqual(
      expect.arrayContaining(["architecture", "systemd", "squashfs", "admin port", "service user"]),
    );
  });

  it("checks the container engine in container mode", () => {
    const f = singleVm();
    const spec = f.file(
      "container.yaml",
      `apiVersion: greentic.ai/v1alpha1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  bundle:\n    source: ${f.bundle}\n  runtime:\n    image: localhost/greentic-runtime:0.1.0\n`,
    );
    const r = f.op(["preflight", "--spec", spec, "--json"]);
    expect(r.json.result.checks.map((c: { name: string }) => c.name)).toContain("podman");
    expect(r.json.result.checks.map((c: { name: string }) => c.name)).not.toContain("node");
  });

  it("a missing Node.js binary fails its check at once: exit 1, the path and the fix named", () => {
    const f = singleVm();
    const node = "/nonexistent/greentic/node";
    const spec = f.file(
      "missing-node.yaml",
      specYaml({ bundle: f.bundle, runtime: f.runtime, extra: `    node: ${node}` }),
    );
    // Start-up of op itself, measured beside it: the 2 s are preflight's own.
    let started = performance.now();
    expect(op(["version"]).status).toBe(0);
    const startup = performance.now() - started;
    started = performance.now();
    const r = f.op(["preflight", "--spec", spec, "--json"]);
    const elapsed = performance.now() - started;
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.json.result.checks.find((c: { name: string }) => c.name === "node")).toEqual({
      name: "node",
      ok: false,
      detail: `${node} not found`,
      hint: `install Node.js 22 or newer at ${node} (or set spec.runtime.node)`,
    });
    expect(r.json.result.summary).toContain(
      `node: ${node} not found (fix: install Node.js 22 or newer at ${node} (or set spec.runtime.node))`,
    );
    // Before the executor cleared its timers, this took the 120 s command timeout.
    expect(elapsed - startup).toBeLessThan(2_000);

    const human = f.op(["preflight", "--spec", spec]);
    expect(human.status).toBe(1);
    expect(human.stdout).toContain(
      `FAIL  node            ${node} not found\n      fix: install Node.js 22 or newer at ${node} (or set spec.runtime.node)`,
    );
  });
});
