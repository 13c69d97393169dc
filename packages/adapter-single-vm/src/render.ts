import { dirname } from "node:path";
import { deploymentMode, parseAdminBind, type DeploymentSpec } from "@greentic/deploy-spec";
import {
  envFileLine,
  escapeSpecifiers,
  execCommandLine,
  pathListItem,
  renderUnitFile,
  systemdEscapePath,
  type UnitFile,
} from "./unit-file.js";

/** Where everything of one deployment lives on the host (paths are target paths). */
export interface Layout {
  name: string;
  serviceUnit: string;
  mountUnit: string;
  serviceFile: string;
  mountFile: string;
  quadletFile: string;
  containerName: string;
  configDir: string;
  envFile: string;
  /** The deployer's own mTLS material (client certificate + CA) to talk to the runtime. */
  deployerDir: string;
  dataRoot: string;
  bundlesDir: string;
  runtimeDir: string;
  stateFile: string;
}

export function layoutFor(spec: DeploymentSpec): Layout {
  const name = spec.metadata.name;
  const mountUnit = `${systemdEscapePath(spec.spec.bundle.mountPath)}.mount`;
  const configDir = `/etc/greentic/${name}`;
  const dataRoot = `/var/lib/greentic/${name}`;
  return {
    name,
    serviceUnit: `greentic-${name}.service`,
    mountUnit,
    serviceFile: `/etc/systemd/system/greentic-${name}.service`,
    mountFile: `/etc/systemd/system/${mountUnit}`,
    quadletFile: `/etc/containers/systemd/greentic-${name}.container`,
    containerName: `greentic-${name}`,
    configDir,
    envFile: `${configDir}/runtime.env`,
    deployerDir: `${configDir}/deployer`,
    dataRoot,
    bundlesDir: `${dataRoot}/bundles`,
    runtimeDir: `${dataRoot}/runtime`,
    stateFile: `${spec.spec.storage.stateDir}/single-vm-state.json`,
  };
}

/** How to render container mode. */
export interface ContainerOptions {
  /** Render a Quadlet `.container` (podman >= 4.4 with its systemd generator) instead of a `.service`. */
  quadlet: boolean;
  /** Absolute path of the engine binary (`/usr/bin/podman`, `/usr/bin/docker`). */
  enginePath: string;
  /** OCI runtime passed to podman (`--runtime`), e.g. `runc` on hosts where crun fails. */
  ociRuntime?: string | undefined;
  /** Numeric uid:gid the container runs as (the service user); names when unknown (staging). */
  user: string;
}

export interface RenderContext {
  /** Hex SHA-256 of the bundle to mount. */
  bundleDigest: string;
  /** Hex SHA-256 of the runtime executable (native mode). */
  runtimeDigest?: string | undefined;
  container?: ContainerOptions | undefined;
}

export interface DesiredFile {
  path: string;
  content: string;
  mode: number;
  /** Group that may read it (`service` = the spec's service group), owner always root. */
  group: "root" | "service";
  kind: "mount-unit" | "service-unit" | "quadlet" | "env-file";
}

export interface DesiredDir {
  path: string;
  mode: number;
  owner: "root" | "service";
  group: "root" | "service";
}

export interface DesiredState {
  layout: Layout;
  mode: "native" | "container";
  bundlePath: string;
  runtimePath?: string | undefined;
  dirs: DesiredDir[];
  files: DesiredFile[];
}

export function bundleCopyPath(layout: Layout, digestHex: string): string {
  return `${layout.bundlesDir}/${digestHex}.gtbundle`;
}

export function runtimeCopyPath(layout: Layout, digestHex: string, binary: string): string {
  const base = binary.endsWith(".mjs") ? "runtime.mjs" : binary.endsWith(".js") ? "runtime.js" : "runtime";
  return `${layout.runtimeDir}/${digestHex}/${base}`;
}

/** Everything apply makes, derived from the spec and the digests: pure, no I/O. */
export function renderDesiredState(spec: DeploymentSpec, ctx: RenderContext): DesiredState {
  const layout = layoutFor(spec);
  const mode = deploymentMode(spec);
  const s = spec.spec;
  const bundlePath = bundleCopyPath(layout, ctx.bundleDigest);
  const certDirs = [
    ...new Set(
      [s.runtime.admin.mtls.caFile, s.runtime.admin.mtls.certFile, s.runtime.admin.mtls.keyFile].map((f) => dirname(f)),
    ),
  ];
  const dirs: DesiredDir[] = [
    { path: layout.configDir, mode: 0o755, owner: "root", group: "root" },
    { path: layout.deployerDir, mode: 0o700, owner: "root", group: "root" },
    ...certDirs
      .filter((d) => d !== layout.configDir)
      .map((path): DesiredDir => ({ path, mode: 0o750, owner: "root", group: "service" })),
    { path: layout.dataRoot, mode: 0o755, owner: "root", group: "root" },
    { path: layout.bundlesDir, mode: 0o755, owner: "root", group: "root" },
    ...(mode === "native"
      ? [{ path: layout.runtimeDir, mode: 0o755, owner: "root", group: "root" } as DesiredDir]
      : []),
    { path: s.bundle.mountPath, mode: 0o755, owner: "root", group: "root" },
    ...Object.values(s.storage).map((path): DesiredDir => ({ path, mode: 0o750, owner: "service", group: "service" })),
  ];

  const files: DesiredFile[] = [
    { path: layout.envFile, content: renderEnvFile(spec), mode: 0o640, group: "service", kind: "env-file" },
    {
      path: layout.mountFile,
      content: renderUnitFile(mountUnit(spec, layout, bundlePath, ctx.bundleDigest)),
      mode: 0o644,
      group: "root",
      kind: "mount-unit",
    },
  ];
  let runtimePath: string | undefined;
  if (mode === "native") {
    if (ctx.runtimeDigest === undefined) throw new Error("native mode needs the runtime digest");
    runtimePath = runtimeCopyPath(layout, ctx.runtimeDigest, s.runtime.binary!);
    files.push({
      path: layout.serviceFile,
      content: renderUnitFile(nativeServiceUnit(spec, layout, runtimePath)),
      mode: 0o644,
      group: "root",
      kind: "service-unit",
    });
  } else {
    const container = ctx.container ?? {
      quadlet: false,
      enginePath: `/usr/bin/${s.runtime.engine ?? "podman"}`,
      user: `${s.service.user}:${s.service.group}`,
    };
    if (container.quadlet) {
      files.push({
        path: layout.quadletFile,
        content: renderUnitFile(quadletContainer(spec, layout, container)),
        mode: 0o644,
        group: "root",
        kind: "quadlet",
      });
    } else {
      files.push({
        path: layout.serviceFile,
        content: renderUnitFile(containerServiceUnit(spec, layout, container)),
        mode: 0o644,
        group: "root",
        kind: "service-unit",
      });
    }
  }
  return { layout, mode, bundlePath, runtimePath, dirs, files };
}

/**
 * The runtime's launch configuration (contracts.md, runtime section). `behindProxy`: a canary
 * revision, whose every request HAProxy records in its ring with the revision (logs.ts), so the
 * runtime writes no line per request to journald: on 2 cores that line cost journald 11-17 µs of
 * CPU and the runtime's synchronous write 10-17 µs more, of 92-112 µs per proxied request in all
 * (see canary.bench.ts).
 */
export function renderEnvFile(spec: DeploymentSpec, options: { behindProxy?: boolean } = {}): string {
  const s = spec.spec;
  const vars: Array<[string, string]> = [
    ["GREENTIC_BUNDLE_DIR", s.bundle.mountPath],
    ["GREENTIC_STATE_DIR", s.storage.stateDir],
    ["GREENTIC_CACHE_DIR", s.storage.cacheDir],
    ["GREENTIC_LOG_DIR", s.storage.logDir],
    ["GREENTIC_TEMP_DIR", s.storage.tempDir],
    ["GREENTIC_PUBLIC_BIND", s.runtime.publicBind],
    ["GREENTIC_ADMIN_BIND", s.runtime.admin.bind],
    ["GREENTIC_ADMIN_CA_FILE", s.runtime.admin.mtls.caFile],
    ["GREENTIC_ADMIN_CERT_FILE", s.runtime.admin.mtls.certFile],
    ["GREENTIC_ADMIN_KEY_FILE", s.runtime.admin.mtls.keyFile],
    ["GREENTIC_HEALTH_READINESS_PATH", s.health.readinessPath],
    ["GREENTIC_HEALTH_LIVENESS_PATH", s.health.livenessPath],
    // Node honours TMPDIR for os.tmpdir(); keep temporary files in the declared temp dir.
    ["TMPDIR", s.storage.tempDir],
    ...(options.behindProxy === true ? [["GREENTIC_ACCESS_LOG", "off"] as [string, string]] : []),
  ];
  return `# Generated by greentic single-vm for ${spec.metadata.name}; changes are overwritten by apply.\n${vars.map(([k, v]) => envFileLine(k, v)).join("\n")}\n`;
}

const GENERATED = (spec: DeploymentSpec) => [
  `Generated by greentic single-vm for deployment ${spec.metadata.name}.`,
  "Changes are overwritten by `op single-vm apply`.",
];

export function mountUnit(spec: DeploymentSpec, layout: Layout, bundlePath: string, digest: string): UnitFile {
  return {
    header: GENERATED(spec),
    sections: [
      {
        name: "Unit",
        entries: [
          ["Description", `Greentic bundle for ${spec.metadata.name} (sha256:${digest.slice(0, 12)}, read-only)`],
          ["RequiresMountsFor", escapeSpecifiers(layout.bundlesDir)],
        ],
      },
      {
        name: "Mount",
        entries: [
          ["What", escapeSpecifiers(bundlePath)],
          ["Where", escapeSpecifiers(spec.spec.bundle.mountPath)],
          ["Type", "squashfs"],
          ["Options", "ro,nodev,nosuid,loop"],
          ["DirectoryMode", "0755"],
        ],
      },
      { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
    ],
  };
}

function unitSection(spec: DeploymentSpec, layout: Layout, mode: string): UnitSection {
  return {
    name: "Unit",
    entries: [
      ["Description", `Greentic runtime for ${spec.metadata.name} (${mode})`],
      ["Requires", layout.mountUnit],
      ["After", `${layout.mountUnit} network-online.target`],
      ["Wants", "network-online.target"],
      ["StartLimitIntervalSec", "60"],
      ["StartLimitBurst", "10"],
    ],
  };
}
type UnitSection = UnitFile["sections"][number];

function writablePaths(spec: DeploymentSpec): string {
  return Object.values(spec.spec.storage).map(pathListItem).join(" ");
}

export function nativeServiceUnit(spec: DeploymentSpec, layout: Layout, runtimePath: string): UnitFile {
  const s = spec.spec;
  const argv = runtimePath.endsWith("js") ? [s.runtime.node!, runtimePath] : [runtimePath];
  return {
    header: GENERATED(spec),
    sections: [
      unitSection(spec, layout, "native"),
      {
        name: "Service",
        entries: [
          ["Type", "simple"],
          ["User", s.service.user],
          ["Group", s.service.group],
          ["EnvironmentFile", escapeSpecifiers(layout.envFile)],
          ["ExecStart", execCommandLine(argv)],
          ["WorkingDirectory", escapeSpecifiers(s.storage.stateDir)],
          ["Restart", "on-failure"],
          ["RestartSec", "1"],
          ["TimeoutStartSec", String(s.health.startupTimeoutSeconds)],
          ["TimeoutStopSec", "30"],
          ["UMask", "0027"],
          // Hardening: read-only system, only the four writable dirs open; the bundle mount is
          // read-only at the mount level as well.
          ["ProtectSystem", "strict"],
          ["ReadWritePaths", writablePaths(spec)],
          ["ProtectHome", "yes"],
          ["PrivateTmp", "yes"],
          ["PrivateDevices", "yes"],
          ["NoNewPrivileges", "yes"],
          ["ProtectKernelTunables", "yes"],
          ["ProtectKernelModules", "yes"],
          ["ProtectControlGroups", "yes"],
          ["RestrictSUIDSGID", "yes"],
          ["LockPersonality", "yes"],
          ["RestrictRealtime", "yes"],
          ["RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"],
          ["CapabilityBoundingSet", ""],
        ],
      },
      { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
    ],
  };
}

function containerVolumes(spec: DeploymentSpec): string[] {
  const s = spec.spec;
  const { caFile, certFile, keyFile } = s.runtime.admin.mtls;
  return [
    `${s.bundle.mountPath}:${s.bundle.mountPath}:ro`,
    ...Object.values(s.storage).map((d) => `${d}:${d}`),
    ...[caFile, certFile, keyFile].map((f) => `${f}:${f}:ro`),
  ];
}

/**
 * Confinement of the engine process that runs the container (podman or docker as root), which
 * the container inherits: `systemd-analyze security` rates it 4.9 (9.6 without). The container
 * itself also runs read-only, as the service user, with no capability and no new privileges.
 * Not applied, because the engine needs what they take away (docs/single-vm.md, Hardening):
 * User=/DynamicUser= and PrivateUsers= (rootful engine), RestrictNamespaces= and
 * PrivateMounts= (a container is made of namespaces and mounts), ProtectControlGroups= (the
 * engine creates the container's cgroup), ProtectKernelTunables= and ProcSubset= (runc mounts
 * /proc and reads /proc/sys), PrivateDevices= (runc creates the container's /dev nodes),
 * ProtectHostname= (runc sets the container's hostname), ProtectProc=invisible (runc must see
 * the container's processes, which belong to the service user), MemoryDenyWriteExecute=
 * (inherited by Node's JIT in the container), PrivateNetwork= and IPAddressDeny= (the runtime
 * serves on the host network), and the capabilities the engine
 * uses to build the container (CAP_SYS_ADMIN, CAP_SETUID/SETGID/SETPCAP, CAP_CHOWN, CAP_DAC_*,
 * CAP_FOWNER, CAP_MKNOD, CAP_SYS_CHROOT, CAP_KILL, CAP_SYS_RESOURCE).
 */
const CONTAINER_ENGINE_HARDENING: Array<readonly [string, string]> = [
  ["UMask", "0027"],
  ["NoNewPrivileges", "yes"],
  ["ProtectSystem", "full"],
  // podman takes a lock file here even for host networking ("-": docker has no such directory).
  ["ReadWritePaths", "-/etc/containers/networks"],
  ["ProtectHome", "yes"],
  ["PrivateTmp", "yes"],
  ["ProtectKernelModules", "yes"],
  ["ProtectKernelLogs", "yes"],
  ["ProtectClock", "yes"],
  ["RestrictRealtime", "yes"],
  ["RestrictSUIDSGID", "yes"],
  ["LockPersonality", "yes"],
  ["KeyringMode", "private"],
  ["SystemCallArchitectures", "native"],
  ["SystemCallFilter", "~@clock @cpu-emulation @debug @module @obsolete @raw-io @reboot @swap"],
  ["RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"],
  ["DevicePolicy", "closed"],
  ["DeviceAllow", "/dev/fuse rw"],
  [
    "CapabilityBoundingSet",
    "~CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_TIME CAP_SYS_BOOT CAP_SYS_PACCT CAP_SYS_TTY_CONFIG CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_LINUX_IMMUTABLE CAP_IPC_LOCK CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE CAP_LEASE CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_NET_ADMIN CAP_NET_BROADCAST CAP_NET_RAW CAP_NET_BIND_SERVICE",
  ],
];

/** A `.service` that runs one container with `podman run` / `docker run` in the foreground. */
export function containerServiceUnit(spec: DeploymentSpec, layout: Layout, c: ContainerOptions): UnitFile {
  const s = spec.spec;
  const engine = s.runtime.engine ?? "podman";
  const run = [
    c.enginePath,
    ...(engine === "podman" && c.ociRuntime ? ["--runtime", c.ociRuntime] : []),
    "run",
    "--rm",
    "--name",
    layout.containerName,
    ...(engine === "podman" ? ["--replace"] : []),
    "--read-only",
    // The runtime binds its admin API to the spec's loopback address itself, so the container
    // shares the host network: the admin port is reachable on exactly that address and port,
    // never published on another interface.
    "--network",
    "host",
    "--user",
    c.user,
    "--security-opt",
    "no-new-privileges",
    "--cap-drop",
    "all",
    "--env-file",
    layout.envFile,
    ...containerVolumes(spec).flatMap((v) => ["--volume", v]),
    "--tmpfs",
    "/tmp",
    s.runtime.image!,
  ];
  return {
    header: GENERATED(spec),
    sections: [
      unitSection(spec, layout, `container, ${engine}`),
      {
        name: "Service",
        entries: [
          ["Type", "simple"],
          ...(engine === "docker"
            ? [["ExecStartPre", `-${execCommandLine([c.enginePath, "rm", "-f", layout.containerName])}`] as const]
            : []),
          ["ExecStart", execCommandLine(run)],
          ["ExecStop", execCommandLine([c.enginePath, "stop", "-t", "20", layout.containerName])],
          ["Restart", "on-failure"],
          ["RestartSec", "1"],
          ["TimeoutStartSec", String(s.health.startupTimeoutSeconds)],
          ["TimeoutStopSec", "40"],
          ["KillMode", "mixed"],
          ...CONTAINER_ENGINE_HARDENING,
        ],
      },
      { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
    ],
  };
}

/** A Quadlet `.container` (podman >= 4.4): the generator turns it into `greentic-<name>.service`. */
export function quadletContainer(spec: DeploymentSpec, layout: Layout, c: ContainerOptions): UnitFile {
  const s = spec.spec;
  const [uid, gid] = c.user.split(":");
  return {
    header: GENERATED(spec),
    sections: [
      unitSection(spec, layout, "container, podman quadlet"),
      {
        name: "Container",
        entries: [
          ["ContainerName", layout.containerName],
          ["Image", s.runtime.image!],
          ["ReadOnly", "true"],
          ["Network", "host"],
          ["User", uid!],
          ["Group", gid ?? uid!],
          ["NoNewPrivileges", "true"],
          ["DropCapability", "all"],
          ["EnvironmentFile", escapeSpecifiers(layout.envFile)],
          ...containerVolumes(spec).map((v) => ["Volume", escapeSpecifiers(v)] as const),
          ["Tmpfs", "/tmp"],
          // --runtime is a global podman flag (GlobalArgs=, podman >= 4.8).
          ...(c.ociRuntime ? [["GlobalArgs", `--runtime ${c.ociRuntime}`] as const] : []),
        ],
      },
      {
        name: "Service",
        entries: [
          ["Restart", "on-failure"],
          ["RestartSec", "1"],
          ["TimeoutStartSec", String(s.health.startupTimeoutSeconds)],
          ...CONTAINER_ENGINE_HARDENING,
        ],
      },
      { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
    ],
  };
}

/** Host port the admin API listens on, and the host to dial. */
export function adminEndpoint(spec: DeploymentSpec): { host: string; port: number } {
  return parseAdminBind(spec.spec.runtime.admin.bind);
}
