import { deploymentMode, GreenticError, type DeploymentSpec } from "@greentic/deploy-spec";
import { stringify } from "yaml";
import { layoutFor } from "./render.js";

/** A file downloaded at first boot and checked against its SHA-256 before anything uses it. */
export interface CloudInitArtifact {
  /** `https://…`, or `http://` to a loopback address (the digest protects the content either way). */
  url: string;
  /** Hex SHA-256 (64 lowercase characters). */
  sha256: string;
}

/** The release artifacts a fresh VM is provisioned from; no Node.js and no npm are installed. */
export interface CloudInitArtifacts {
  /** The `op` single-file executable (`op-linux-x64` of a release); installed as /usr/local/bin/op. */
  op: CloudInitArtifact;
  /** The bundle (`.gtbundle`); installed where `spec.bundle.source` points. */
  bundle: CloudInitArtifact;
  /** Native mode: the runtime executable (`greentic-runtime-linux-x64`); installed at `spec.runtime.binary`. */
  runtime?: CloudInitArtifact | undefined;
  /** Container mode: the runtime image as an OCI archive; loaded and tagged as `spec.runtime.image`. */
  image?: CloudInitArtifact | undefined;
}

export interface CloudInitOptions {
  artifacts: CloudInitArtifacts;
  /** Debian/Ubuntu packages with pinned versions (`name` → version); unpinned names install the archive's version. */
  packages?: Record<string, string | null>;
}

/** Where the first-boot script keeps downloads until every digest has been checked. */
export const FIRSTBOOT_DIR = "/var/lib/greentic-firstboot";
export const FIRSTBOOT_SCRIPT = "/usr/local/sbin/greentic-firstboot";

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

const invalid = (path: string, message: string, hint?: string) =>
  new GreenticError("invalid-argument", message, { path, ...(hint ? { hint } : {}) });

/** `=https` for https URLs, `=http` for http URLs to a loopback host; anything else is refused. */
function urlProtocol(key: string, url: string): "https" | "http" {
  if (/^https:\/\/[^\s'"\\]+$/.test(url)) return "https";
  const http = /^http:\/\/(127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d+)?\/[^\s'"\\]*$/.exec(url);
  if (http) return "http";
  throw invalid(
    `artifacts.${key}.url`,
    `artifacts.${key}.url must be an https:// URL (or http:// to a loopback address) without spaces or quotes, got ${JSON.stringify(url)}`,
    "serve the release artifacts over HTTPS",
  );
}

/**
 * A `#cloud-config` that provisions a fresh Debian or Ubuntu VM for `spec` from the release
 * artifacts: packages, the service user, sysctl hardening and the spec written by cloud-init;
 * then one first-boot script that downloads every artifact, checks each SHA-256 (and installs
 * nothing unless all match), installs the `op` and runtime executables (or loads the image),
 * runs `op single-vm apply` and ends with a readiness check over mTLS. Any failure exits
 * non-zero, so `cloud-init status` reports an error and the log names the cause.
 */
export function renderCloudInit(spec: DeploymentSpec, options: CloudInitOptions): string {
  const mode = deploymentMode(spec);
  const { artifacts } = options;
  const s = spec.spec;
  if (mode === "native") {
    if (!artifacts.runtime)
      throw invalid(
        "artifacts.runtime",
        "native mode needs the runtime artifact (artifacts.runtime: {url, sha256})",
        "pass the release's greentic-runtime-linux-x64",
      );
    if (artifacts.image)
      throw invalid(
        "artifacts.image",
        "artifacts.image is for container mode; this spec runs natively (spec.runtime.binary)",
      );
    if (/\.(c|m)?js$/.test(s.runtime.binary!))
      throw invalid(
        "spec.runtime.binary",
        `spec.runtime.binary is ${s.runtime.binary}, a script that needs Node.js, which cloud-init does not install`,
        "set spec.runtime.binary to the path of the runtime executable, e.g. /usr/local/bin/greentic-runtime",
      );
  } else {
    if (!artifacts.image)
      throw invalid(
        "artifacts.image",
        "container mode needs the image artifact (artifacts.image: {url, sha256})",
        "pass the release's greentic-runtime-image-linux-x64.oci.tar",
      );
    if (artifacts.runtime)
      throw invalid(
        "artifacts.runtime",
        "artifacts.runtime is for native mode; this spec runs a container image (spec.runtime.image)",
      );
  }
  const protocols = new Map<string, "https" | "http">();
  for (const [key, a] of Object.entries(artifacts) as [string, CloudInitArtifact | undefined][]) {
    if (!a) continue;
    if (!/^[0-9a-f]{64}$/.test(a.sha256))
      throw invalid(
        `artifacts.${key}.sha256`,
        `artifacts.${key}.sha256 must be 64 lowercase hex characters, got ${JSON.stringify(a.sha256)}`,
      );
    protocols.set(key, urlProtocol(key, a.url));
  }

  const layout = layoutFor(spec);
  const strip = (p: string) => (p.startsWith("file://") ? p.slice(7) : p);
  const specPath = `${layout.configDir}/deployment.yaml`;
  const engine = s.runtime.engine ?? "podman";
  const basePackages: Record<string, string | null> = {
    "squashfs-tools": null,
    "ca-certificates": null,
    curl: null,
    ...(mode === "container" && engine === "podman" ? { podman: null } : {}),
    ...options.packages,
  };
  const packages = Object.entries(basePackages).map(([name, version]) => (version ? [name, version] : name));
  const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const { host, port } = (() => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s.runtime.admin.bind)!;
    return { host: m[1]!, port: m[2]! };
  })();
  const readyUrl = `https://${host}:${port}${s.health.readinessPath}`;
  const fetches = (Object.entries(artifacts) as [string, CloudInitArtifact | undefined][])
    .filter((e): e is [string, CloudInitArtifact] => e[1] !== undefined)
    .sort(
      ([a], [b]) => ["op", "runtime", "image", "bundle"].indexOf(a) - ["op", "runtime", "image", "bundle"].indexOf(b),
    )
    .map(([key, a]) => `fetch ${key} ${protocols.get(key)} ${q(a.url)} ${a.sha256}`);
  const install =
    mode === "native"
      ? [`install -D -m 0755 "$work/runtime" ${q(s.runtime.binary!)}`]
      : [
          `loaded=$(${engine} load --quiet --input "$work/image" | sed -n 's/^Loaded image[^:]*: *//p' | head -n 1)`,
          `[ -n "$loaded" ] || { log "the image archive named no image"; exit 1; }`,
          `[ "$loaded" = ${q(s.runtime.image!)} ] || ${engine} tag "$loaded" ${q(s.runtime.image!)}`,
          `log "image $loaded loaded as ${s.runtime.image!.replace(/["$`\\]/g, "")}"`,
        ];
  const script = [
    "#!/bin/sh",
    `# Written by \`op single-vm cloud-init\` for ${spec.metadata.name}; run once by cloud-init at first boot.`,
    "# Every artifact is downloaded and checked against its SHA-256 before anything is installed.",
    "set -eu",
    'log() { echo "greentic-firstboot: $*"; }',
    'fail() { echo "greentic-firstboot: $*" >&2; exit 1; }',
    `work=${FIRSTBOOT_DIR}`,
    'mkdir -p -m 0700 "$work"',
    "fetch() {",
    "  # NAME PROTOCOL URL SHA256",
    '  log "downloading $1 from $3"',
    '  curl --fail --silent --show-error --location --retry 5 --retry-connrefused --proto "=$2" --proto-redir =https \\',
    '    --output "$work/$1.part" "$3" || fail "$1: download from $3 failed"',
    '  actual=$(sha256sum "$work/$1.part" | cut -d " " -f 1)',
    '  if [ "$actual" != "$4" ]; then',
    '    rm -f "$work/$1.part"',
    '    fail "$1: SHA-256 mismatch for $3: expected $4, actual $actual; nothing was installed"',
    "  fi",
    '  mv "$work/$1.part" "$work/$1"',
    '  log "$1: sha256 $4 verified"',
    "}",
    ...fetches,
    'install -m 0755 "$work/op" /usr/local/bin/op',
    ...install,
    `install -D -m 0644 "$work/bundle" ${q(strip(s.bundle.source))}`,
    `rm -rf "$work"`,
    "# Inside a container host some of these are not writable; the rest still apply.",
    'sysctl --system >/dev/null 2>&1 || log "warning: some sysctl settings could not be applied"',
    `/usr/local/bin/op single-vm apply --spec ${q(specPath)}`,
    `if curl --fail --silent --show-error --retry 10 --retry-all-errors --retry-delay 3 --cacert ${q(`${layout.deployerDir}/ca.crt`)} --cert ${q(`${layout.deployerDir}/client.crt`)} --key ${q(`${layout.deployerDir}/client.key`)} --output /dev/null ${q(readyUrl)}; then`,
    `  log ${q(`${spec.metadata.name} ready: ${readyUrl} answered over mTLS`)}`,
    "else",
    `  fail ${q(`${spec.metadata.name} NOT ready: ${readyUrl} did not answer 200 over mTLS (journalctl -u ${layout.serviceUnit})`)}`,
    "fi",
    "",
  ].join("\n");

  const doc = {
    // The image's own apt sources (a cloud's mirror) stay as they are.
    apt: { preserve_sources_list: true },
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
      { path: FIRSTBOOT_SCRIPT, owner: "root:root", permissions: "0700", content: script },
    ],
    // One command: the script stops at the first failure, and its exit status is what
    // `cloud-init status --long` reports.
    runcmd: [[FIRSTBOOT_SCRIPT]],
    final_message: `greentic single-vm ${spec.metadata.name}: cloud-init finished after $UPTIME s; the first boot's steps are the greentic-firstboot lines of /var/log/cloud-init-output.log`,
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
