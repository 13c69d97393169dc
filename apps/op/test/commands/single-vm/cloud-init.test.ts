import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { singleVm } from "./fixture.js";

const sha = (c: string) => c.repeat(64);
const artifacts = [
  `bundle=https://dl.example.com/acme-1.0.0.gtbundle@sha256:${sha("a")}`,
  `node=https://nodejs.org/dist/v22.12.0/node-v22.12.0-linux-x64.tar.xz@sha256:${sha("b")}`,
  `cli=https://dl.example.com/greentic-op-0.1.0.tgz@${sha("c")}`,
  `runtime=https://dl.example.com/greentic-runtime.js@sha256:${sha("d")}`,
].flatMap((a) => ["--artifact", a]);
const hasCloudInit = spawnSync("cloud-init", ["--version"]).status === 0;

describe("op single-vm cloud-init", () => {
  it.skipIf(!hasCloudInit)("prints a #cloud-config that passes `cloud-init schema`", () => {
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
    const apply: string[] = doc.runcmd.find((c: string[]) => c.includes("single-vm") && c.includes("apply"));
    expect(apply).toEqual(["/usr/local/bin/op", "single-vm", "apply", "--spec", "/etc/greentic/acme/deployment.yaml"]);
    const local = f.file("installed-deployment.yaml", specFile.content);
    const r = f.op([...apply.slice(2, 4), local, "--root", f.root]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^acme: applied /);
  });

  it("names the missing artifacts and rejects malformed ones (exit 2)", () => {
    const f = singleVm();
    const none = f.op(["cloud-init", "--spec", f.spec, "--json"]);
    expect(none.status).toBe(2);
    expect(none.errorJson.error.message).toContain("bundle, node, cli, runtime");
    const bad = f.op([
      "cloud-init",
      "--spec",
      f.spec,
      ...artifacts.slice(0, 6),
      "--artifact",
      "runtime=https://x.example/rt.js@sha256:1234",
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

  it("container mode needs no runtime artifact and installs podman", () => {
    const f = singleVm();
    const spec = f.file(
      "container.yaml",
      `apiVersion: greentic.ai/v1alpha1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  bundle:\n    source: ${f.bundle}\n  runtime:\n    image: localhost/greentic-runtime:0.1.0\n`,
    );
    const doc = parse(f.ok(["cloud-init", "--spec", spec, ...artifacts.slice(0, 6)]).document);
    expect(doc.packages).toContain("podman");
  });
});
