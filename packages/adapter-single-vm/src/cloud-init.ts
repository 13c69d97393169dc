import { deploymentMode, GreenticError, type DeploymentSpec } from "@greentic/deploy-spec";
import { stringify } from "yaml";
import { layoutFor } from "./render.js";

/** A file downloaded at first boot and checked against its SHA-256 before use. */
export interface CloudInitArtifact {
  url: string;
  /** Hex SHA-256 (64 characters). */
  sha256: string;
}

export interface CloudInitOptions {
  artifacts: {
    /** The bundle (`.gtbundle`); installed where `spec.bundle.source` points. */
    bundle: CloudInitArtifact;
    /** Node.js for linux-x64 as the official `.tar.xz`; installed under /opt/node. */
    node: CloudInitArtifact;
    /** The `op` CLI as an npm tarball (`npm pack` of @greentic/op). */
    cli: CloudInitArtifact;
    /** Native mode: the runtime executable; installed where `spec.runtime.binary` points. */
    runtime?: CloudInitArtifact | undefined;
  };
  /** Debian/Ubuntu packages with pinned versions (`name` → version); unpinned names install the archive's version. */
  packages?: Record<string, string | null>;
}

const SYSCTL_HARDENING = [
  "# Written by greentic single-vm cloud-init.",
  "kernel.kptr_restrict = 2",
  "kernel.dmesg_restrict = 1",
  "kernel.unprivileged_bpf_disabled = 1",
  "kernel.yama.ptrace_scope = 1",
  "fs.protected_symlinks = 1",
  "fs.protected_hardlinks = 1",
  "fs.suid_dumpable = 0",
  "net.ipv4.conf.all.rp_filter = 1",
  "net.ipv4.conf.all.accept_redirects = 0",
  "net.ipv4.conf.all.send_redirects = 0",
  "net.ipv4.conf.all.accept_source_route = 0",
  "net.ipv6.conf.all.accept_redirects = 0",
  "net.ipv4.tcp_syncookies = 1",
  "",
].join("\n");

/**
 * A `#cloud-config` that prepares a fresh Debian or Ubuntu VM for `spec`: packages, the service
 * user, sysctl hardening, artifacts downloaded and checked by SHA-256, the spec and the CLI
 * installed, `op single-vm apply` on first boot and a final health check over mTLS.
 */
export function renderCloudInit(spec: DeploymentSpec, options: CloudInitOptions): string {
  const mode = deploymentMode(spec);
  const { artifacts } = options;
  if (mode === "native" && !artifacts.runtime) {
    throw new GreenticError(
      "invalid-argument",
      "native mode needs the runtime artifact (artifacts.runtime: {url, sha256})",
      { path: "artifacts.runtime" },
    );
  }
  for (const [key, a] of Object.entries(artifacts)) {
    if (!a) continue;
    if (!/^[0-9a-f]{64}$/.test(a.sha256))
      throw new GreenticError(
        "invalid-argument",
        `artifacts.${key}.sha256 must be 64 lowercase hex characters, got ${JSON.stringify(a.sha256)}`,
        { path: `artifacts.${key}.sha256` },
      );
    if (!/^https:\/\/[^\s'"]+$/.test(a.url))
      throw new GreenticError(
        "invalid-argument",
        `artifacts.${key}.url must be an https:// URL without spaces or quotes, got ${JSON.stringify(a.url)}`,
        { path: `artifacts.${key}.url` },
      );
  }
  const layout = layoutFor(spec);
  const s = spec.spec;
  const strip = (p: string) => (p.startsWith("file://") ? p.slice(7) : p);
  const specPath = `${layout.configDir}/deployment.yaml`;
  const basePackages: Record<string, string | null> = {
    "squashfs-tools": null,
    "ca-certificates": null,
    curl: null,
    "xz-utils": null,
    ...(mode === "container" && (s.runtime.engine ?? "podman") === "podman" ? { podman: null } : {}),
    ...options.packages,
  };
  const packages = Object.entries(basePackages).map(([name, version]) => (version ? [name, version] : name));
  const downloads: Array<[CloudInitArtifact, string]> = [
    [artifacts.node, "/var/tmp/greentic/node.tar.xz"],
    [artifacts.cli, "/var/tmp/greentic/op.tgz"],
    [artifacts.bundle, strip(s.bundle.source)],
    ...(artifacts.runtime
      ? ([[artifacts.runtime, strip(s.runtime.binary!)]] as Array<[CloudInitArtifact, string]>)
      : []),
  ];
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const { host, port } = (() => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s.runtime.admin.bind)!;
    return { host: m[1]!, port: m[2]! };
  })();
  const doc = {
    package_update: true,
    package_upgrade: false,
    packages,
    groups: [s.service.group],
    users: [
      "default",
      {
        name: s.service.user,
        system: true,
        primary_group: s.service.group,
        shell: "/usr/sbin/nologin",
        no_create_home: true,
        lock_passwd: true,
      },
    ],
    write_files: [
      {
        path: "/etc/sysctl.d/90-greentic-hardening.conf",
        owner: "root:root",
        permissions: "0644",
        content: SYSCTL_HARDENING,
      },
      { path: specPath, owner: "root:root", permissions: "0644", content: stringify(spec) },
      {
        path: "/usr/local/sbin/greentic-fetch",
        owner: "root:root",
        permissions: "0755",
        content: [
          "#!/bin/sh",
          "# greentic-fetch URL SHA256 DEST: download, verify, then move into place (never a partial file).",
          "set -eu",
          'mkdir -p "$(dirname "$3")"',
          'curl --fail --silent --show-error --location --retry 5 --proto =https -o "$3.part" "$1"',
          'echo "$2  $3.part" | sha256sum --check --status || { echo "greentic-fetch: $1 does not match sha256 $2" >&2; rm -f "$3.part"; exit 1; }',
          'mv "$3.part" "$3"',
          "",
        ].join("\n"),
      },
    ],
    runcmd: [
      ["sysctl", "--system"],
      ...downloads.map(([a, dest]) => ["/usr/local/sbin/greentic-fetch", a.url, a.sha256, dest]),
      ["mkdir", "-p", "/opt/node"],
      ["tar", "-xJf", "/var/tmp/greentic/node.tar.xz", "-C", "/opt/node", "--strip-components=1"],
      ["ln", "-sf", "/opt/node/bin/node", "/usr/local/bin/node"],
      ...(mode === "native" && s.runtime.node !== "/usr/local/bin/node"
        ? [["ln", "-sf", "/opt/node/bin/node", s.runtime.node!]]
        : []),
      ["/opt/node/bin/npm", "install", "--global", "--prefix", "/usr/local", "/var/tmp/greentic/op.tgz"],
      ["/usr/local/bin/op", "single-vm", "apply", "--spec", specPath],
      [
        "sh",
        "-c",
        `curl --fail --silent --show-error --retry 10 --retry-all-errors --retry-delay 3 --cacert ${q(`${layout.deployerDir}/ca.crt`)} --cert ${q(`${layout.deployerDir}/client.crt`)} --key ${q(`${layout.deployerDir}/client.key`)} ${q(`https://${host === "localhost" ? "localhost" : host}:${port}${s.health.readinessPath}`)} && echo greentic: ${spec.metadata.name} ready`,
      ],
    ],
    final_message: `greentic single-vm ${spec.metadata.name} provisioned after $UPTIME s`,
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
