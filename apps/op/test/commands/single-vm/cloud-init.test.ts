import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { singleVm as fixture, specYaml } from "./fixture.js";

/** The single-VM fixture with a runtime executable (cloud-init installs no Node.js for a .js one). */
function singleVm() {
  const f = fixture();
  const runtime = f.file("greentic-runtime", "#!/bin/sh\n");
  return { ...f, runtime, spec: f.file("executable.yaml", specYaml({ bundle: f.bundle, runtime })) };
}

const sha = (c: string) => c.repeat(64);
const artifacts = [
  `op=https://dl.example.com/0.1.0/op-linux-x64@${sha("c")}`,
  `bundle=https://dl.example.com/acme-1.0.0.gtbundle@sha256:${sha("a")}`,
  `runtime=https://dl.example.com/0.1.0/greentic-runtime-linux-x64@sha256:${sha("d")}`,
].flatMap((a) => ["--artifact", a]);
const hasCloudInit = spawnSync("cloud-init", ["--version"]).status === 0;

describe("op single-vm cloud-init", () => {
  it.skipIf(!hasCloudInit && !process.env.CI)("prints a #cloud-config that passes `cloud-init schema`", () => {
    const f = singleVm();
    const r = f.op(["cloud-init", "--spec", f.spec, ...artifacts, "--package", "squashfs-tools=1:4.5.1-1"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^#cloud-config\n/);
    const file = f.file("user-data.yaml", r.stdout);
    const schema = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(`${schema.stdout}${schema.stderr}`, schema.stderr).toContain("Valid cloud-config");
    expect(schema.status).toBe(0);
  });

  it("its first-boot command `op single-vm apply --spec FILE` works on the spec it installs", () => {
    const f = singleVm();
    const doc = parse(f.ok(["cloud-init", "--spec", f.spec, ...artifacts]).document);
    const specFile = doc.write_files.find((w: { path: string }) => w.path === "/etc/greentic/acme/deployment.yaml");
    const script = doc.write_files.find(
      (w: { path: string }) => w.path === "/usr/local/sbin/greentic-firstboot",
    ).content;
    expect(doc.runcmd).toEqual([["/usr/local/sbin/greentic-firstboot"]]);
    expect(script).toContain("\n/usr/local/bin/op single-vm apply --spec '/etc/greentic/acme/deployment.yaml'\n");
    const apply = ["/usr/local/bin/op", "single-vm", "apply", "--spec", "/etc/greentic/acme/deployment.yaml"];
    const local = f.file("installed-deployment.yaml", specFile.content);
    const r = f.op([...apply.slice(2, 4), local, "--root", f.root]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^acme: applied /);
  });

  it("names the missing artifacts and rejects malformed ones (exit 2)", () => {
    const f = singleVm();
    const none = f.op(["cloud-init", "--spec", f.spec, "--json"]);
    expect(none.status).toBe(2);
    expect(none.errorJson.error.message).toBe(
      "cloud-init needs the op, bundle, runtime artifacts (native mode runs the runtime executable)",
    );
    const bad = f.op([
      "cloud-init",
      "--spec",
      f.spec,
      ...artifacts.slice(0, 4),
      "--artifact",
      "runtime=https://x.example/rt@sha256:1234",
      "--json",
    ]);
    expect(bad.status).toBe(2);
    expect(bad.errorJson.error).toMatchObject({ kind: "invalid-argument", path: "artifacts.runtime.sha256" });
    const unknown = f.op([
      "cloud-init",
      "--spec",
      f.spec,
      ...artifacts,
      "--artifact",
      `kernel=https://x.example/k@sha256:${sha("e")}`,
    ]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown artifact "kernel"');
  });

  it("container mode needs the image artifact, not the runtime one, and installs podman", () => {
    const f = singleVm();
    const spec = f.file(
      "container.yaml",
      `apiVersion: greentic.ai/v1alpha1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  bundle:\n    source: ${f.bundle}\n  runtime:\n    image: localhost/greentic-runtime:0.1.0\n`,
    );
    const noImage = f.op(["cloud-init", "--spec", spec, ...artifacts.slice(0, 4), "--json"]);
    expect(noImage.status).toBe(2);
    expect(noImage.errorJson.error.message).toBe(
      "cloud-init needs the image artifact (container mode loads the runtime image)",
    );
    const withRuntime = f.op([
      "cloud-init",
      "--spec",
      spec,
      ...artifacts,
      "--artifact",
      `image=https://x.example/i.tar@${sha("e")}`,
    ]);
    expect(withRuntime.status).toBe(2);
    expect(withRuntime.stderr).toContain("--artifact runtime is for native mode");
    const doc = parse(
      f.ok([
        "cloud-init",
        "--spec",
        spec,
        ...artifacts.slice(0, 4),
        "--artifact",
        `image=https://x.example/i.tar@${sha("e")}`,
      ]).document,
    );
    expect(doc.packages).toContain("podman");
  });
});
