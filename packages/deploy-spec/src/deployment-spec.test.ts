import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { DEPLOYMENT_SPEC_DEFAULTS, deploymentMode, parseAdminBind, validateDeploymentSpec } from "./deployment-spec.js";
import { assertDeploymentSpec, parseDeploymentSpec } from "./deployment-spec-text.js";
import { GreenticError } from "./errors.js";

const SEED_YAML = `apiVersion: greentic.ai/v1alpha1
kind: Deployment
metadata:
  name: acme-prod
spec:
  target: single-vm
  bundle:
    source: file:///opt/greentic/bundles/acme.squashfs
    format: squashfs
  runtime:
    image: ghcr.io/greentic-ai/operator-distroless:0.1.0-distroless
    arch: x86_64
    admin:
      bind: 127.0.0.1:8433
      mtls:
        caFile: /etc/greentic/admin/ca.crt
        certFile: /etc/greentic/admin/server.crt
        keyFile: /etc/greentic/admin/server.key
  storage:
    stateDir: /var/lib/greentic/state
    cacheDir: /var/lib/greentic/cache
    logDir: /var/log/greentic
    tempDir: /var/lib/greentic/tmp
  service:
    manager: systemd
    user: greentic
    group: greentic
  health:
    readinessPath: /ready
    livenessPath: /health
    startupTimeoutSeconds: 120
  rollout:
    strategy: recreate
`;

type Doc = Record<string, any>;
const minimal = (): Doc => ({
  apiVersion: "greentic.ai/v1alpha1",
  kind: "Deployment",
  metadata: { name: "acme" },
  spec: { bundle: { source: "/srv/acme.gtbundle" }, runtime: { binary: "/opt/greentic/runtime/bin.js" } },
});

/** Validates `doc` after `edit` and returns the issues (empty when valid). */
function issuesOf(edit: (d: Doc) => void) {
  const d = minimal();
  edit(d);
  const r = validateDeploymentSpec(d, { source: "spec.yaml" });
  return r.ok ? [] : r.issues;
}

function expectIssue(edit: (d: Doc) => void, path: string, code: string, text?: RegExp) {
  const issues = issuesOf(edit);
  expect(issues).toContainEqual(expect.objectContaining({ path, code }));
  if (text) expect(issues.find((i) => i.path === path && i.code === code)!.message).toMatch(text);
}

describe("parseDeploymentSpec", () => {
  it("accepts the seed document verbatim and derives container mode", () => {
    const r = parseDeploymentSpec(SEED_YAML, { source: "seed.yaml" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.spec.runtime).toEqual({
      image: "ghcr.io/greentic-ai/operator-distroless:0.1.0-distroless",
      engine: "podman",
      arch: "x86_64",
      publicBind: "127.0.0.1:8080",
      admin: {
        bind: "127.0.0.1:8433",
        mtls: {
          caFile: "/etc/greentic/admin/ca.crt",
          certFile: "/etc/greentic/admin/server.crt",
          keyFile: "/etc/greentic/admin/server.key",
        },
      },
    });
    expect(r.value.spec.bundle.mountPath).toBe("/mnt/greentic/bundles/acme-prod");
    expect(deploymentMode(r.value)).toBe("container");
  });

  it("parses JSON by content and applies every documented default", () => {
    const r = parseDeploymentSpec(JSON.stringify(minimal()));
    expect(r).toEqual({
      ok: true,
      value: {
        apiVersion: "greentic.ai/v1alpha1",
        kind: "Deployment",
        metadata: { name: "acme" },
        spec: {
          target: "single-vm",
          bundle: { source: "/srv/acme.gtbundle", format: "squashfs", mountPath: "/mnt/greentic/bundles/acme" },
          runtime: {
            binary: "/opt/greentic/runtime/bin.js",
            node: "/usr/bin/node",
            arch: "x86_64",
            publicBind: "127.0.0.1:8080",
            admin: {
              bind: "127.0.0.1:8433",
              mtls: {
                caFile: "/etc/greentic/acme/admin/ca.crt",
                certFile: "/etc/greentic/acme/admin/server.crt",
                keyFile: "/etc/greentic/acme/admin/server.key",
              },
            },
          },
          storage: {
            stateDir: "/var/lib/greentic/acme/state",
            cacheDir: "/var/lib/greentic/acme/cache",
            logDir: "/var/log/greentic/acme",
            tempDir: "/var/lib/greentic/acme/tmp",
          },
          service: { manager: "systemd", user: "greentic", group: "greentic" },
          health: { readinessPath: "/ready", livenessPath: "/health", startupTimeoutSeconds: 120 },
          rollout: {
            strategy: "recreate",
            drainSeconds: 30,
            sticky: false,
            revisionPorts: "20000-20999",
          },
        },
      },
    });
    expect(DEPLOYMENT_SPEC_DEFAULTS.adminBind).toBe("127.0.0.1:8433");
  });

  it("reports malformed YAML and JSON as a parse issue naming the source", () => {
    const y = parseDeploymentSpec("spec: [unclosed", { source: "a.yaml" });
    expect(y.ok).toBe(false);
    if (!y.ok) expect(y.summary).toMatch(/^a\.yaml: \(document\): not valid YAML/);
    const j = parseDeploymentSpec("{ nope", { source: "a.json" });
    expect(!j.ok && j.issues[0]).toMatchObject({
      path: "",
      code: "parse",
      message: expect.stringMatching(/^not valid JSON/),
    });
    expect(parseDeploymentSpec("- 1\n- 2\n").ok).toBe(false);
  });

  it("rejects duplicate YAML keys", () => {
    expect(parseDeploymentSpec(`${stringify(minimal())}kind: Deployment\n`).ok).toBe(false);
  });

  it("assertDeploymentSpec throws a validation GreenticError with path, issues and hint", () => {
    const d = minimal();
    d.spec.runtime.admin = { bind: "0.0.0.0:8433" };
    try {
      assertDeploymentSpec(stringify(d), { source: "prod.yaml" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(GreenticError);
      const e = error as GreenticError;
      expect(e.kind).toBe("validation");
      expect(e.path).toBe("spec.runtime.admin.bind");
      expect(e.message).toMatch(/^prod\.yaml: spec\.runtime\.admin\.bind: "0\.0\.0\.0:8433" would expose/);
      expect(e.hint).toMatch(/init-spec/);
    }
  });
});

describe("DeploymentSpec rules", () => {
  it("apiVersion and kind must match exactly", () => {
    expectIssue((d) => (d.apiVersion = "greentic.ai/v1"), "apiVersion", "invalid-value", /greentic\.ai\/v1alpha1/);
    expectIssue((d) => (d.kind = "Service"), "kind", "invalid-value", /"Deployment", got "Service"/);
  });

  it("rejects unknown keys at every level", () => {
    expectIssue((d) => (d.extra = 1), "extra", "unknown-field");
    expectIssue((d) => (d.metadata.labels = {}), "metadata.labels", "unknown-field");
    expectIssue((d) => (d.spec.replicas = 2), "spec.replicas", "unknown-field");
    expectIssue((d) => (d.spec.bundle.sha = "x"), "spec.bundle.sha", "unknown-field");
    expectIssue(
      (d) => (d.spec.runtime.admin = { bind: "127.0.0.1:1", port: 1 }),
      "spec.runtime.admin.port",
      "unknown-field",
    );
    expectIssue(
      (d) => (d.spec.runtime.admin = { mtls: { crlFile: "/x" } }),
      "spec.runtime.admin.mtls.crlFile",
      "unknown-field",
    );
    expectIssue((d) => (d.spec.storage = { dataDir: "/x" }), "spec.storage.dataDir", "unknown-field");
    expectIssue((d) => (d.spec.service = { shell: "/bin/sh" }), "spec.service.shell", "unknown-field");
    expectIssue((d) => (d.spec.health = { interval: 1 }), "spec.health.interval", "unknown-field");
    expectIssue((d) => (d.spec.rollout = { maxSurge: 1 }), "spec.rollout.maxSurge", "unknown-field");
  });

  it("metadata.name: required, non-empty, no / or \\, safe characters", () => {
    expectIssue((d) => delete d.metadata.name, "metadata.name", "required");
    expectIssue((d) => (d.metadata.name = ""), "metadata.name", "name-empty");
    expectIssue((d) => (d.metadata.name = "a/b"), "metadata.name", "name-path", /must not contain \/ or \\/);
    expectIssue((d) => (d.metadata.name = "a\\b"), "metadata.name", "name-path");
    expectIssue((d) => (d.metadata.name = "-x"), "metadata.name", "name-invalid");
    expectIssue((d) => (d.metadata.name = "a b"), "metadata.name", "name-invalid");
    expect(issuesOf((d) => (d.metadata.name = "Acme.prod_1"))).toEqual([]);
  });

  it("target single-vm only; bundle format squashfs only; source file:// or absolute", () => {
    expectIssue((d) => (d.spec.target = "k8s"), "spec.target", "invalid-value");
    expectIssue((d) => (d.spec.bundle.format = "tar"), "spec.bundle.format", "invalid-value");
    expectIssue((d) => delete d.spec.bundle, "spec.bundle", "required");
    expectIssue(
      (d) => (d.spec.bundle.source = "https://example.com/a.gtbundle"),
      "spec.bundle.source",
      "source-invalid",
    );
    expectIssue((d) => (d.spec.bundle.source = "bundles/a.gtbundle"), "spec.bundle.source", "source-invalid");
    expect(issuesOf((d) => (d.spec.bundle.source = "file:///srv/a.gtbundle"))).toEqual([]);
  });

  it("runtime: exactly one of image or binary; mode-specific keys", () => {
    expectIssue((d) => (d.spec.runtime = {}), "spec.runtime", "runtime-missing");
    expectIssue((d) => (d.spec.runtime.image = "localhost/r:1"), "spec.runtime", "runtime-ambiguous");
    expectIssue((d) => (d.spec.runtime.engine = "docker"), "spec.runtime.engine", "mode-mismatch");
    expectIssue(
      (d) => (d.spec.runtime = { image: "localhost/r:1", node: "/usr/bin/node" }),
      "spec.runtime.node",
      "mode-mismatch",
    );
    expectIssue(
      (d) => (d.spec.runtime = { image: "localhost/r:1", engine: "lxc" }),
      "spec.runtime.engine",
      "invalid-value",
    );
    expectIssue((d) => (d.spec.runtime = { image: "bad image" }), "spec.runtime.image", "image-invalid");
    expectIssue((d) => (d.spec.runtime.binary = "bin.js"), "spec.runtime.binary", "path-not-absolute");
    const docker = validateDeploymentSpec({
      ...minimal(),
      spec: { ...minimal().spec, runtime: { image: "localhost/r:1", engine: "docker" } },
    });
    expect(docker.ok && docker.value.spec.runtime.engine).toBe("docker");
    const native = validateDeploymentSpec(minimal());
    expect(native.ok && deploymentMode(native.value)).toBe("native");
  });

  it("arch: x86_64 only, aarch64 with its own message", () => {
    expectIssue(
      (d) => (d.spec.runtime.arch = "aarch64"),
      "spec.runtime.arch",
      "arch-unsupported",
      /only x86_64.*aarch64 may come later/,
    );
    expectIssue((d) => (d.spec.runtime.arch = "riscv64"), "spec.runtime.arch", "invalid-value");
    expect(issuesOf((d) => (d.spec.runtime.arch = "x86_64"))).toEqual([]);
  });

  it("admin bind: loopback hosts on any port 1..65535", () => {
    for (const bind of [
      "127.0.0.1:8433",
      "127.0.0.1:1",
      "127.0.0.1:65535",
      "localhost:9443",
      "[::1]:8433",
      "[::1]:20443",
      "127.0.0.2:8433",
      "[::ffff:127.0.0.1]:8433",
    ]) {
      expect(issuesOf((d) => (d.spec.runtime.admin = { bind }))).toEqual([]);
    }
    expect(parseAdminBind("[::1]:20443")).toEqual({ host: "::1", port: 20443 });
    expect(parseAdminBind("localhost:9")).toEqual({ host: "localhost", port: 9 });
  });

  it("admin bind: 0.0.0.0 and :: rejected with their own message", () => {
    for (const bind of ["0.0.0.0:8433", "[::]:8433", ":8433"]) {
      expectIssue(
        (d) => (d.spec.runtime.admin = { bind }),
        "spec.runtime.admin.bind",
        "bind-wildcard",
        /every interface: it must listen on loopback only/,
      );
    }
  });

  it("admin bind: non-loopback hosts, bad ports and unbracketed IPv6 rejected", () => {
    expectIssue(
      (d) => (d.spec.runtime.admin = { bind: "10.0.0.5:8433" }),
      "spec.runtime.admin.bind",
      "bind-not-loopback",
    );
    for (const bind of ["example.com:8433", "[127.0.0.1]:8433", "[::ffff:10.0.0.1]:8433", "128.0.0.1:8433"]) {
      expectIssue((d) => (d.spec.runtime.admin = { bind }), "spec.runtime.admin.bind", "bind-not-loopback");
    }
    for (const bind of ["127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:08433", "127.0.0.1:x", "127.0.0.1:"]) {
      expectIssue((d) => (d.spec.runtime.admin = { bind }), "spec.runtime.admin.bind", "bind-port");
    }
    expectIssue(
      (d) => (d.spec.runtime.admin = { bind: "::1:8433" }),
      "spec.runtime.admin.bind",
      "bind-invalid",
      /\[::1\]:8433/,
    );
    expectIssue((d) => (d.spec.runtime.admin = { bind: "127.0.0.1" }), "spec.runtime.admin.bind", "bind-invalid");
  });

  it("public bind: host:port, any interface, port 0..65535", () => {
    for (const publicBind of ["0.0.0.0:8080", "127.0.0.1:0", "[::]:443", "app.internal:80"]) {
      expect(issuesOf((d) => (d.spec.runtime.publicBind = publicBind))).toEqual([]);
    }
    for (const publicBind of ["8080", "0.0.0.0:65536", "::1:80", "a b:1"]) {
      expectIssue((d) => (d.spec.runtime.publicBind = publicBind), "spec.runtime.publicBind", "bind-invalid");
    }
  });

  it("mTLS paths must be absolute", () => {
    expectIssue(
      (d) => (d.spec.runtime.admin = { mtls: { keyFile: "server.key" } }),
      "spec.runtime.admin.mtls.keyFile",
      "path-not-absolute",
    );
  });

  it("storage dirs: absolute and normalised", () => {
    expectIssue((d) => (d.spec.storage = { stateDir: "state" }), "spec.storage.stateDir", "path-not-absolute");
    expectIssue((d) => (d.spec.storage = { cacheDir: "/var/../etc" }), "spec.storage.cacheDir", "path-not-absolute");
    expectIssue((d) => (d.spec.storage = { logDir: "/var/log/" }), "spec.storage.logDir", "path-not-absolute");
    expectIssue((d) => (d.spec.storage = { tempDir: "/" }), "spec.storage.tempDir", "path-not-absolute");
  });

  it("storage dirs: distinct and not nested", () => {
    expectIssue(
      (d) => (d.spec.storage = { stateDir: "/srv/g", cacheDir: "/srv/g" }),
      "spec.storage.cacheDir",
      "storage-duplicate",
      /also used by spec\.storage\.stateDir/,
    );
    expectIssue(
      (d) => (d.spec.storage = { stateDir: "/srv/g", cacheDir: "/srv/g/cache" }),
      "spec.storage.cacheDir",
      "storage-nested",
    );
    expectIssue(
      (d) => (d.spec.storage = { stateDir: "/srv/g/state", tempDir: "/srv/g" }),
      "spec.storage.stateDir",
      "storage-nested",
    );
    // A shared prefix that is not a parent is fine.
    expect(issuesOf((d) => (d.spec.storage = { stateDir: "/srv/g", cacheDir: "/srv/g2" }))).toEqual([]);
  });

  it("storage dirs: none inside (or containing) the bundle mount", () => {
    expectIssue(
      (d) => (d.spec.storage = { logDir: "/mnt/greentic/bundles/acme/log" }),
      "spec.storage.logDir",
      "storage-in-bundle",
    );
    expectIssue(
      (d) => (d.spec.bundle.mountPath = "/var/lib/greentic/acme/state/b"),
      "spec.storage.stateDir",
      "storage-in-bundle",
    );
  });

  it("service: manager systemd; dedicated, valid user and group", () => {
    expectIssue((d) => (d.spec.service = { manager: "openrc" }), "spec.service.manager", "invalid-value");
    expectIssue((d) => (d.spec.service = { user: "root" }), "spec.service.user", "service-root");
    expectIssue((d) => (d.spec.service = { group: "Bad Group" }), "spec.service.group", "service-name-invalid");
  });

  it("health: paths start with /; startup timeout an integer 1..3600", () => {
    expectIssue((d) => (d.spec.health = { readinessPath: "ready" }), "spec.health.readinessPath", "invalid-format");
    expectIssue((d) => (d.spec.health = { livenessPath: "/he alth" }), "spec.health.livenessPath", "invalid-format");
    expectIssue(
      (d) => (d.spec.health = { startupTimeoutSeconds: 0 }),
      "spec.health.startupTimeoutSeconds",
      "too-small",
    );
    expectIssue(
      (d) => (d.spec.health = { startupTimeoutSeconds: 1.5 }),
      "spec.health.startupTimeoutSeconds",
      "invalid-type",
    );
    expectIssue(
      (d) => (d.spec.health = { startupTimeoutSeconds: "120" }),
      "spec.health.startupTimeoutSeconds",
      "invalid-type",
    );
  });

  it("rollout: recreate or canary; canary needs a fixed public port and a usable port range", () => {
    expectIssue((d) => (d.spec.rollout = { strategy: "blue-green" }), "spec.rollout.strategy", "invalid-value");
    expectIssue(
      (d) => (d.spec.rollout = { strategy: "canary", drainSeconds: -1 }),
      "spec.rollout.drainSeconds",
      "too-small",
    );
    expectIssue((d) => (d.spec.rollout = { revisionPorts: "80-81" }), "spec.rollout.revisionPorts", "invalid-value");
    expectIssue((d) => (d.spec.rollout = { revisionPorts: "20000" }), "spec.rollout.revisionPorts", "invalid-format");
    expectIssue(
      (d) => {
        d.spec.rollout = { strategy: "canary" };
        d.spec.runtime.publicBind = "0.0.0.0:0";
      },
      "spec.runtime.publicBind",
      "bind-port-zero",
    );
    const d = minimal();
    d.spec.rollout = { strategy: "canary", drainSeconds: 5, sticky: true, revisionPorts: "31000-31009" };
    const r = validateDeploymentSpec(d);
    expect(r.ok && r.value.spec.rollout).toEqual({
      strategy: "canary",
      drainSeconds: 5,
      sticky: true,
      revisionPorts: "31000-31009",
    });
  });

  it("collects several issues and summarises the first with a count", () => {
    const d = minimal();
    d.spec.runtime.admin = { bind: "0.0.0.0:1" };
    d.spec.runtime.arch = "aarch64";
    const r = validateDeploymentSpec(d, { source: "x.yaml" });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map((i) => i.code).sort()).toEqual(["arch-unsupported", "bind-wildcard"]);
      expect(r.summary).toMatch(/\(and 1 more\)$/);
    }
  });
});
