import { parse } from "yaml";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isErrorKind } from "@greentic/deploy-spec";
import { assertDeploymentSpec, parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import {
  applyDeployment,
  containerServiceUnit,
  createHostExecutor,
  layoutFor,
  loadPlan,
  planDeployment,
  quadletContainer,
  renderCloudInit,
  renderDesiredState,
  renderInitSpec,
  renderUnitFile,
  savePlan,
} from "../src/index.js";
import { makeBundle, specOf } from "./helpers.js";

const dirs: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const node = realpathSync(process.execPath);
const runtimeJs = join(mkdtempSync(join(tmpdir(), "gt-rt-")), "bin.js");
writeFileSync(runtimeJs, "console.log('runtime');\n");
function nativeSpec(bundle: string, extra: Record<string, unknown> = {}) {
  return specOf({
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name: "acme" },
    spec: {
      bundle: { source: `file://${bundle}` },
      runtime: { binary: runtimeJs, node, admin: { bind: "127.0.0.1:9443" } },
      ...extra,
    },
  });
}
const hasTool = (cmd: string, args: string[]) => spawnSync(cmd, args).status === 0;

describe("renderers", () => {
  const spec = specOf({
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      bundle: { source: "/srv/web.gtbundle" },
      runtime: { image: "localhost/rt:1", admin: { bind: "[::1]:20443" } },
    },
  });

  it("container .service wraps podman run: read-only, :ro bundle, volumes, host network on the spec's loopback bind", () => {
    const text = renderUnitFile(
      containerServiceUnit(spec, layoutFor(spec), {
        quadlet: false,
        enginePath: "/usr/bin/podman",
        ociRuntime: "runc",
        user: "998:997",
      }),
    );
    expect(text).toContain(
      "ExecStart=/usr/bin/podman --runtime runc run --rm --name greentic-web --replace --read-only --network host --user 998:997 --security-opt no-new-privileges --cap-drop all --env-file /etc/greentic/web/runtime.env " +
        "--volume /mnt/greentic/bundles/web:/mnt/greentic/bundles/web:ro --volume /var/lib/greentic/web/state:/var/lib/greentic/web/state --volume /var/lib/greentic/web/cache:/var/lib/greentic/web/cache " +
        "--volume /var/log/greentic/web:/var/log/greentic/web --volume /var/lib/greentic/web/tmp:/var/lib/greentic/web/tmp --volume /etc/greentic/web/admin/ca.crt:/etc/greentic/web/admin/ca.crt:ro " +
        "--volume /etc/greentic/web/admin/server.crt:/etc/greentic/web/admin/server.crt:ro --volume /etc/greentic/web/admin/server.key:/etc/greentic/web/admin/server.key:ro --tmpfs /tmp localhost/rt:1\n",
    );
    expect(text).toContain("ExecStop=/usr/bin/podman stop -t 20 greentic-web\n");
    expect(text).toContain(
      "Requires=mnt-greentic-bundles-web.mount\nAfter=mnt-greentic-bundles-web.mount network-online.target\n",
    );
    const env = renderDesiredState(spec, { bundleDigest: "a".repeat(64) }).files.find(
      (f) => f.kind === "env-file",
    )!.content;
    expect(env).toContain("GREENTIC_ADMIN_BIND=[::1]:20443\n");
  });

  it("docker: no --replace, a pre-start rm instead", () => {
    const docker = specOf({
      ...JSON.parse(JSON.stringify(spec)),
      spec: { ...JSON.parse(JSON.stringify(spec.spec)), runtime: { image: "localhost/rt:1", engine: "docker" } },
    });
    const text = renderUnitFile(
      containerServiceUnit(docker, layoutFor(docker), {
        quadlet: false,
        enginePath: "/usr/bin/docker",
        user: "998:997",
      }),
    );
    expect(text).toContain("ExecStartPre=-/usr/bin/docker rm -f greentic-web\n");
    expect(text).toMatch(/ExecStart=\/usr\/bin\/docker run --rm --name greentic-web --read-only --network host /);
  });

  it("Quadlet .container carries the same confinement with repeated Volume= keys", () => {
    const text = renderUnitFile(
      quadletContainer(spec, layoutFor(spec), { quadlet: true, enginePath: "/usr/bin/podman", user: "998:997" }),
    );
    expect(text).toContain(
      "[Container]\nContainerName=greentic-web\nImage=localhost/rt:1\nReadOnly=true\nNetwork=host\nUser=998\nGroup=997\nNoNewPrivileges=true\nDropCapability=all\nEnvironmentFile=/etc/greentic/web/runtime.env\nVolume=/mnt/greentic/bundles/web:/mnt/greentic/bundles/web:ro\nVolume=/var/lib/greentic/web/state:/var/lib/greentic/web/state\n",
    );
    expect(text.match(/^Volume=/gm)).toHaveLength(8);
    expect(
      renderDesiredState(spec, {
        bundleDigest: "b".repeat(64),
        container: { quadlet: true, enginePath: "/usr/bin/podman", user: "1:1" },
      }).files.map((f) => f.path),
    ).toEqual([
      "/etc/greentic/web/runtime.env",
      "/etc/systemd/system/mnt-greentic-bundles-web.mount",
      "/etc/containers/systemd/greentic-web.container",
    ]);
  });
});

describe("--root staging", () => {
  it("renders everything under the root, records commands, runs nothing; then converges", async () => {
    const bundle = makeBundle(tmp("gt-src-"), "acme.gtbundle", "v1");
    const root = tmp("gt-stage-");
    const spec = nativeSpec(bundle);
    const result = await applyDeployment(spec, { root });
    expect(result.staging).toBe(true);
    expect(result.commands).toEqual([
      "groupadd --system greentic",
      "useradd --system --gid greentic --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin greentic",
      "systemctl daemon-reload",
      "systemctl enable mnt-greentic-bundles-acme.mount",
      "systemctl restart mnt-greentic-bundles-acme.mount",
      "systemctl enable greentic-acme.service",
      "systemctl reset-failed greentic-acme.service",
      "systemctl restart greentic-acme.service",
    ]);
    const unit = readFileSync(join(root, "etc/systemd/system/greentic-acme.service"), "utf8");
    expect(unit).toContain(`ExecStart=${node} /var/lib/greentic/acme/runtime/`);
    expect(unit).toContain(
      "ReadWritePaths=/var/lib/greentic/acme/state /var/lib/greentic/acme/cache /var/log/greentic/acme /var/lib/greentic/acme/tmp\n",
    );
    for (const line of [
      "User=greentic",
      "Group=greentic",
      "ProtectSystem=strict",
      "NoNewPrivileges=yes",
      "PrivateTmp=yes",
      "ProtectHome=yes",
      "Restart=on-failure",
      "EnvironmentFile=/etc/greentic/acme/runtime.env",
      "Requires=mnt-greentic-bundles-acme.mount",
    ]) {
      expect(unit).toContain(`${line}\n`);
    }
    const mount = readFileSync(join(root, "etc/systemd/system/mnt-greentic-bundles-acme.mount"), "utf8");
    expect(mount).toContain(
      `[Mount]\nWhat=/var/lib/greentic/acme/bundles/${result.bundleDigest.slice(7)}.gtbundle\nWhere=/mnt/greentic/bundles/acme\nType=squashfs\nOptions=ro,nodev,nosuid,loop\n`,
    );
    expect(readFileSync(join(root, "etc/greentic/acme/runtime.env"), "utf8").split("\n").slice(1, 8)).toEqual([
      "GREENTIC_BUNDLE_DIR=/mnt/greentic/bundles/acme",
      "GREENTIC_STATE_DIR=/var/lib/greentic/acme/state",
      "GREENTIC_CACHE_DIR=/var/lib/greentic/acme/cache",
      "GREENTIC_LOG_DIR=/var/log/greentic/acme",
      "GREENTIC_TEMP_DIR=/var/lib/greentic/acme/tmp",
      "GREENTIC_PUBLIC_BIND=127.0.0.1:8080",
      "GREENTIC_ADMIN_BIND=127.0.0.1:9443",
    ]);
    expect(statSync(join(root, "etc/greentic/acme/admin/server.key")).mode & 0o777).toBe(0o640);
    expect(statSync(join(root, "etc/greentic/acme/deployer/client.key")).mode & 0o777).toBe(0o600);
    // The copy is the verified bundle; no temp files are left behind.
    expect(readFileSync(join(root, `var/lib/greentic/acme/bundles/${result.bundleDigest.slice(7)}.gtbundle`))).toEqual(
      readFileSync(bundle),
    );
    expect(readdirSync(join(root, "etc/systemd/system")).filter((n) => n.includes(".tmp-"))).toEqual([]);
    // Staging cannot see units, so it plans their restart, but every file is in place.
    const again = await planDeployment(spec, { root });
    expect(again.actions.filter((a) => !["unit", "group", "user", "dir", "state"].includes(a.resource))).toEqual([]);
  });

  it.skipIf(!hasTool("systemd-analyze", ["--version"]) && !process.env.CI)(
    "generated units pass systemd-analyze verify",
    async () => {
      const bundle = makeBundle(tmp("gt-src-"), "acme.gtbundle", "v1");
      const root = tmp("gt-stage-");
      await applyDeployment(nativeSpec(bundle), { root });
      const unitDir = join(root, "etc/systemd/system");
      const units = readdirSync(unitDir).map((n) => join(unitDir, n));
      const verify = (files: string[]) =>
        spawnSync("systemd-analyze", ["verify", "--man=no", ...files], {
          encoding: "utf8",
          env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir}:`, SYSTEMD_LOG_COLOR: "0" },
        });
      const r = verify(units);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      // The validator is real: it flags a broken directive in the same setup.
      writeFileSync(
        units.find((u) => u.endsWith(".service"))!,
        readFileSync(units.find((u) => u.endsWith(".service"))!, "utf8").replace(
          "ProtectHome=yes",
          "ProtectHome=maybe",
        ),
      );
      expect(verify(units).stderr).toMatch(/ProtectHome|protect home/i);
    },
  );

  it.skipIf((!hasTool("systemd-analyze", ["--version"]) || !hasTool("podman", ["--version"])) && !process.env.CI)(
    "the podman-wrapping container unit passes systemd-analyze verify",
    async () => {
      const bundle = makeBundle(tmp("gt-src-"), "web.gtbundle", "v1");
      const root = tmp("gt-stage-");
      const spec = specOf({
        apiVersion: "greentic.ai/v1alpha1",
        kind: "Deployment",
        metadata: { name: "web" },
        spec: { bundle: { source: bundle }, runtime: { image: "localhost/rt:1" } },
      });
      await applyDeployment(spec, { root, ociRuntime: "runc" });
      const unitDir = join(root, "etc/systemd/system");
      const r = spawnSync(
        "systemd-analyze",
        ["verify", "--man=no", ...readdirSync(unitDir).map((n) => join(unitDir, n))],
        { encoding: "utf8", env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir}:` } },
      );
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    },
  );

  it("a saved plan round-trips and goes stale when the staged files change", async () => {
    const bundle = makeBundle(tmp("gt-src-"), "acme.gtbundle", "v1");
    const root = tmp("gt-stage-");
    const spec = nativeSpec(bundle);
    const plan = await planDeployment(spec, { root });
    expect(plan.exitCode).toBe(2);
    const file = join(tmp("gt-plan-"), "plan.json");
    writeFileSync(file, savePlan(plan));
    expect(await loadPlan(file)).toEqual(JSON.parse(JSON.stringify(plan)));
    writeFileSync(join(tmp("gt-x-"), "x"), "");
    await applyDeployment(spec, { root }); // someone else applied meanwhile
    const err = await applyDeployment(await loadPlan(file), { root }).catch((e: unknown) => e);
    expect(isErrorKind(err, "precondition-failed")).toBe(true);
    expect((err as Error).message).toMatch(/^plan is stale: the host changed since the plan was made/);
    writeFileSync(file, "{}");
    expect(isErrorKind(await loadPlan(file).catch((e: unknown) => e), "invalid-argument")).toBe(true);
  });

  it("a missing bundle source is not-found, naming the field", async () => {
    const err = await planDeployment(nativeSpec("/nonexistent/b.gtbundle"), { root: tmp("gt-stage-") }).catch(
      (e: unknown) => e,
    );
    expect(isErrorKind(err, "not-found")).toBe(true);
    expect((err as Error).message).toBe(
      "spec.bundle.source: /nonexistent/b.gtbundle does not exist on the target host",
    );
  });

  it("0.0.0.0 and :: admin binds are rejected before anything is written", () => {
    const root = tmp("gt-stage-");
    for (const bind of ["0.0.0.0:8433", "[::]:8433"]) {
      const text = `apiVersion: greentic.ai/v1alpha1\nkind: Deployment\nmetadata: {name: acme}\nspec:\n  bundle: {source: /srv/a.gtbundle}\n  runtime: {binary: /opt/rt.js, admin: {bind: "${bind}"}}\n`;
      expect(() => assertDeploymentSpec(text, { source: "spec.yaml" })).toThrow(
        /spec\.runtime\.admin\.bind: .* would expose the admin API on every interface/,
      );
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it("the executor records in staging and runs for real otherwise", async () => {
    const staging = createHostExecutor({ root: "/tmp/nowhere" });
    expect(await staging.run("false", [])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(staging.recorded).toEqual([{ cmd: "false", args: [] }]);
    const host = createHostExecutor();
    expect((await host.run("sh", ["-c", "echo out; echo err >&2; exit 3"])).code).toBe(3);
    expect(await host.run("cat", [], { input: "in" })).toEqual({ code: 0, stdout: "in", stderr: "" });
    expect((await host.run("/nonexistent/cmd", [])).code).toBe(127);
  });
});

describe("init-spec and cloud-init", () => {
  it("init-spec is a valid spec whose values are the defaults", () => {
    for (const mode of ["native", "container"] as const) {
      const r = parseDeploymentSpec(renderInitSpec({ name: "shop", mode }), { source: "init" });
      expect(r.ok, r.ok ? "" : r.summary).toBe(true);
      if (r.ok) {
        expect(r.value.spec.storage.stateDir).toBe("/var/lib/greentic/shop/state");
        expect(r.value.spec.runtime.admin.bind).toBe("127.0.0.1:8433");
      }
    }
    expect(renderInitSpec()).toMatch(/^# Greentic single-VM deployment spec/);
  });

  const artifacts = {
    op: { url: "https://example.com/0.1.0/op-linux-x64", sha256: "c".repeat(64) },
    bundle: { url: "https://example.com/shop.gtbundle", sha256: "a".repeat(64) },
    runtime: { url: "https://example.com/0.1.0/greentic-runtime-linux-x64", sha256: "d".repeat(64) },
  };
  const nativeDoc = {
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name: "shop" },
    spec: {
      bundle: { source: "file:///opt/greentic/bundles/shop.gtbundle" },
      runtime: { binary: "/usr/local/bin/greentic-runtime" },
    },
  };
  const spec = assertDeploymentSpec(JSON.stringify(nativeDoc));
  const firstboot = (text: string) =>
    (
      parse(text.slice("#cloud-config\n".length)) as { write_files: { path: string; content: string }[] }
    ).write_files.find((f) => f.path === "/usr/local/sbin/greentic-firstboot")!.content;

  it("cloud-init: every digest checked before anything is installed, no Node.js, apply on first boot, readiness last", () => {
    const text = renderCloudInit(spec, { artifacts, packages: { "squashfs-tools": "1:4.5.1-1" } });
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(text).toContain("  - - squashfs-tools\n    - 1:4.5.1-1\n");
    expect(text).toContain("runcmd:\n  - - /usr/local/sbin/greentic-firstboot\n");
    expect(text).not.toContain("npm");
    const script = firstboot(text);
    expect(script).not.toMatch(/\bnode\b/);
    const lines = script.split("\n");
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
    expect(lines.filter((l) => l.startsWith("fetch "))).toEqual([
      `fetch op https 'https://example.com/0.1.0/op-linux-x64' ${"c".repeat(64)}`,
      `fetch runtime https 'https://example.com/0.1.0/greentic-runtime-linux-x64' ${"d".repeat(64)}`,
      `fetch bundle https 'https://example.com/shop.gtbundle' ${"a".repeat(64)}`,
    ]);
    // All downloads come before the first install, apply after the installs, readiness last.
    expect(at("fetch bundle")).toBeLessThan(at('install -m 0755 "$work/op" /usr/local/bin/op'));
    expect(at("install -D -m 0755 \"$work/runtime\" '/usr/local/bin/greentic-runtime'")).toBeGreaterThan(0);
    expect(at("install -D -m 0644 \"$work/bundle\" '/opt/greentic/bundles/shop.gtbundle'")).toBeGreaterThan(0);
    expect(at("/usr/local/bin/op single-vm apply --spec '/etc/greentic/shop/deployment.yaml'")).toBeGreaterThan(
      at("install -D -m 0644"),
    );
    expect(script).toMatch(
      /--cert '\/etc\/greentic\/shop\/deployer\/client\.crt' .* 'https:\/\/127\.0\.0\.1:8433\/ready'; then/,
    );
    expect(script).toContain('fail "$1: SHA-256 mismatch for $3: expected $4, actual $actual; nothing was installed"');
    expect(text).toContain("kernel.kptr_restrict = 2");
  });

  it("cloud-init: container mode loads the image archive and tags it as the spec's image", () => {
    const container = assertDeploymentSpec(
      JSON.stringify({
        ...nativeDoc,
        spec: { ...nativeDoc.spec, runtime: { image: "localhost/greentic-runtime:0.1.0" } },
      }),
    );
    const { runtime: _r, ...rest } = artifacts;
    const text = renderCloudInit(container, {
      artifacts: { ...rest, image: { url: "http://127.0.0.1:8080/image.oci.tar", sha256: "e".repeat(64) } },
    });
    const script = firstboot(text);
    expect(script).toContain(`fetch image http 'http://127.0.0.1:8080/image.oci.tar' ${"e".repeat(64)}`);
    expect(script).toContain(
      `[ "$loaded" = 'localhost/greentic-runtime:0.1.0' ] || podman tag "$loaded" 'localhost/greentic-runtime:0.1.0'`,
    );
    expect(parse(text.slice(14)).packages).toContain("podman");
  });

  it("cloud-init refuses bad digests, wrong or missing artifacts, plain HTTP off loopback and a .js runtime", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return {
          kind: (e as { kind: string }).kind,
          path: (e as { path: string }).path,
          message: (e as Error).message,
        };
      }
      throw new Error("did not throw");
    };
    expect(
      err(() => renderCloudInit(spec, { artifacts: { ...artifacts, bundle: { ...artifacts.bundle, sha256: "xyz" } } })),
    ).toEqual({
      kind: "invalid-argument",
      path: "artifacts.bundle.sha256",
      message: 'artifacts.bundle.sha256 must be 64 lowercase hex characters, got "xyz"',
    });
    const { runtime: _runtime, ...noRuntime } = artifacts;
    expect(err(() => renderCloudInit(spec, { artifacts: noRuntime })).path).toBe("artifacts.runtime");
    expect(err(() => renderCloudInit(spec, { artifacts: { ...artifacts, image: artifacts.op } })).path).toBe(
      "artifacts.image",
    );
    expect(
      err(() =>
        renderCloudInit(spec, { artifacts: { ...artifacts, op: { ...artifacts.op, url: "http://example.com/op" } } }),
      ),
    ).toMatchObject({ path: "artifacts.op.url" });
    const js = assertDeploymentSpec(
      JSON.stringify({
        ...nativeDoc,
        spec: { ...nativeDoc.spec, runtime: { binary: "/opt/greentic/runtime/bin.js" } },
      }),
    );
    expect(err(() => renderCloudInit(js, { artifacts }))).toMatchObject({
      path: "spec.runtime.binary",
      message:
        "spec.runtime.binary is /opt/greentic/runtime/bin.js, a script that needs Node.js, which cloud-init does not install",
    });
  });

  it.skipIf(!hasTool("cloud-init", ["--version"]) && !process.env.CI)("cloud-init schema accepts the document", () => {
    const file = join(tmp("gt-ci-"), "user-data");
    writeFileSync(file, renderCloudInit(spec, { artifacts }));
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(r.stderr + r.stdout).toMatch(/Valid (cloud-config|schema)/i);
    expect(r.status).toBe(0);
    writeFileSync(file, "#cloud-config\npackages: 5\nruncmd: {}\n");
    expect(spawnSync("cloud-init", ["schema", "--config-file", file]).status).not.toBe(0);
  });

  it("staging leaves nothing outside its root", () => {
    expect(
      existsSync("/etc/greentic/acme/runtime.env") &&
        readFileSync("/etc/greentic/acme/runtime.env", "utf8").includes("9443"),
    ).toBe(false);
  });
});

describe("fixtures/specs", () => {
  const dir = join(import.meta.dirname, "../../../fixtures/specs");
  it("valid fixtures parse; invalid ones fail on the field they are about", () => {
    const results = Object.fromEntries(
      readdirSync(dir)
        .sort()
        .map((f) => {
          const r = parseDeploymentSpec(readFileSync(join(dir, f), "utf8"), { source: f });
          return [f, r.ok ? "ok" : r.issues.map((i) => `${i.path} ${i.code}`).join(", ")];
        }),
    );
    expect(results).toEqual({
      "container.yaml": "ok",
      "invalid-aarch64.json": "spec.runtime.arch arch-unsupported",
      "invalid-admin-wildcard.yaml": "spec.runtime.admin.bind bind-wildcard",
      "native.yaml": "ok",
    });
  });
});
