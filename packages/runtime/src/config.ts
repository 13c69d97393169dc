import { accessSync, constants, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { isAbsolute, join } from "node:path";
import { isLoopback, parseHostPort } from "@greentic/io-kit";

/** A parsed `host:port` (IPv6 hosts without brackets). */
export interface HostPort {
  host: string;
  port: number;
}

/** The runtime's validated configuration (see `loadRuntimeConfig`). */
export interface RuntimeConfig {
  /** Read-only bundle content: an extracted bundle or a mounted squashfs image. */
  bundleDir: string;
  stateDir: string;
  cacheDir: string;
  /** Checked to exist and be writable; logs themselves go to stdout. */
  logDir: string;
  tempDir: string;
  publicBind: HostPort;
  /** Always a loopback address (or `localhost`, resolved and re-checked at start). */
  adminBind: HostPort;
  adminCaFile: string;
  adminCertFile: string;
  adminKeyFile: string;
  readinessPath: string;
  livenessPath: string;
  revisionId: string | null;
  /** How long a drain (SIGTERM, POST /admin/v1/drain then exit) waits for in-flight requests. */
  drainTimeoutMs: number;
  /**
   * Whether each public request gets a `request` log line (`GREENTIC_ACCESS_LOG`, default on).
   * Off where a proxy in front already records every request: the single-VM canary's HAProxy.
   */
  accessLog: boolean;
}

/** One configuration problem: the variable, the value it had, what is wrong and what to do. */
export interface ConfigIssue {
  variable: string;
  value: string | null;
  message: string;
  hint: string;
}

export type LoadRuntimeConfigResult = { ok: true; config: RuntimeConfig } | { ok: false; issues: ConfigIssue[] };

export interface LoadRuntimeConfigOptions {
  /**
   * Check the filesystem contract (read-only bundle, writable dirs exist, certificate files
   * readable). Default true; turn off only to validate an env file on another machine.
   */
  checkFilesystem?: boolean;
}

export const DEFAULT_PUBLIC_BIND = "0.0.0.0:8080";
export const DEFAULT_ADMIN_BIND = "127.0.0.1:8433";
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 10;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the runtime configuration from environment variables. Problems come
 * back as data (every one found, not just the first), so callers decide how to report them.
 */
export function loadRuntimeConfig(env: Env, options: LoadRuntimeConfigOptions = {}): LoadRuntimeConfigResult {
  const issues: ConfigIssue[] = [];
  const issue = (variable: string, value: string | null, message: string, hint: string) => {
    issues.push({ variable, value, message, hint });
  };

  const requiredPath = (variable: string, value: string | undefined, what: string): string => {
    if (value === undefined || value === "") {
      issue(variable, null, `${variable} is not set`, `set ${variable} to the absolute path of the ${what}`);
      return "";
    }
    if (!isAbsolute(value)) {
      issue(
        variable,
        value,
        `${variable} must be an absolute path`,
        `set ${variable} to an absolute path such as /var/lib/greentic/...`,
      );
      return "";
    }
    return value;
  };

  const bundleVariable = env.GREENTIC_BUNDLE_DIR
    ? "GREENTIC_BUNDLE_DIR"
    : env.GREENTIC_BUNDLE_MOUNT
      ? "GREENTIC_BUNDLE_MOUNT"
      : "GREENTIC_BUNDLE_DIR";
  const bundleDir = requiredPath(
    bundleVariable,
    env[bundleVariable],
    "read-only bundle directory (GREENTIC_BUNDLE_MOUNT is accepted as an alias)",
  );
  const writable = {
    stateDir: [
      "GREENTIC_STATE_DIR",
      requiredPath("GREENTIC_STATE_DIR", env.GREENTIC_STATE_DIR, "writable state directory"),
    ],
    cacheDir: [
      "GREENTIC_CACHE_DIR",
      requiredPath("GREENTIC_CACHE_DIR", env.GREENTIC_CACHE_DIR, "writable cache directory"),
    ],
    logDir: ["GREENTIC_LOG_DIR", requiredPath("GREENTIC_LOG_DIR", env.GREENTIC_LOG_DIR, "writable log directory")],
    tempDir: ["GREENTIC_TEMP_DIR", requiredPath("GREENTIC_TEMP_DIR", env.GREENTIC_TEMP_DIR, "writable temp directory")],
  } as const;
  const caFile = requiredPath(
    "GREENTIC_ADMIN_CA_FILE",
    env.GREENTIC_ADMIN_CA_FILE,
    "admin CA certificate (PEM) that signs operator client certificates",
  );
  const certFile = requiredPath(
    "GREENTIC_ADMIN_CERT_FILE",
    env.GREENTIC_ADMIN_CERT_FILE,
    "admin server certificate (PEM)",
  );
  const keyFile = requiredPath(
    "GREENTIC_ADMIN_KEY_FILE",
    env.GREENTIC_ADMIN_KEY_FILE,
    "admin server private key (PEM)",
  );

  const publicBind = parseBindVariable("GREENTIC_PUBLIC_BIND", env.GREENTIC_PUBLIC_BIND ?? DEFAULT_PUBLIC_BIND, issue);
  const adminBind = parseBindVariable("GREENTIC_ADMIN_BIND", env.GREENTIC_ADMIN_BIND ?? DEFAULT_ADMIN_BIND, issue);
  if (adminBind) {
    const problem = adminHostProblem(adminBind.host);
    if (problem)
      issue(
        "GREENTIC_ADMIN_BIND",
        env.GREENTIC_ADMIN_BIND ?? DEFAULT_ADMIN_BIND,
        problem,
        "bind the admin endpoint to loopback only, e.g. 127.0.0.1:8433, [::1]:8433 or localhost:8433",
      );
  }

  const readinessPath = healthPath(
    "GREENTIC_HEALTH_READINESS_PATH",
    env.GREENTIC_HEALTH_READINESS_PATH ?? "/ready",
    issue,
  );
  const livenessPath = healthPath(
    "GREENTIC_HEALTH_LIVENESS_PATH",
    env.GREENTIC_HEALTH_LIVENESS_PATH ?? "/health",
    issue,
  );
  if (readinessPath && readinessPath === livenessPath) {
    issue(
      "GREENTIC_HEALTH_READINESS_PATH",
      readinessPath,
      "the readiness and liveness paths are the same",
      "give GREENTIC_HEALTH_READINESS_PATH and GREENTIC_HEALTH_LIVENESS_PATH different paths",
    );
  }

  let drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_SECONDS * 1000;
  const drainRaw = env.GREENTIC_DRAIN_TIMEOUT_SECONDS;
  if (drainRaw !== undefined && drainRaw !== "") {
    const seconds = Number(drainRaw);
    if (!/^\d+(\.\d+)?$/.test(drainRaw) || !(seconds > 0) || seconds > 3600) {
      issue(
        "GREENTIC_DRAIN_TIMEOUT_SECONDS",
        drainRaw,
        "GREENTIC_DRAIN_TIMEOUT_SECONDS must be a number of seconds between 0 and 3600 (exclusive of 0)",
        "use e.g. GREENTIC_DRAIN_TIMEOUT_SECONDS=10",
      );
    } else {
      drainTimeoutMs = Math.round(seconds * 1000);
    }
  }

  const accessLogRaw = env.GREENTIC_ACCESS_LOG ?? "";
  if (accessLogRaw !== "" && accessLogRaw !== "on" && accessLogRaw !== "off")
    issue(
      "GREENTIC_ACCESS_LOG",
      accessLogRaw,
      "GREENTIC_ACCESS_LOG must be on or off",
      "use GREENTIC_ACCESS_LOG=off to leave out the public requests' log lines (a proxy in front logs them), or on (the default)",
    );

  const revisionId = env.GREENTIC_REVISION_ID?.trim() || null;
  if (revisionId !== null && !/^[\w.:-]{1,128}$/.test(revisionId)) {
    issue(
      "GREENTIC_REVISION_ID",
      revisionId,
      "GREENTIC_REVISION_ID has characters other than letters, digits, '.', ':', '_' and '-' (or is longer than 128)",
      "pass the revision's ULID",
    );
  }

  if (options.checkFilesystem !== false) {
    if (bundleDir) checkBundleDir(bundleVariable, bundleDir, issue);
    for (const [variable, dir] of Object.values(writable)) if (dir) checkWritableDir(variable, dir, issue);
    for (const [variable, file] of [
      ["GREENTIC_ADMIN_CA_FILE", caFile],
      ["GREENTIC_ADMIN_CERT_FILE", certFile],
      ["GREENTIC_ADMIN_KEY_FILE", keyFile],
    ] as const) {
      if (file) checkPemFile(variable, file, issue);
    }
  }

  if (issues.length > 0 || !publicBind || !adminBind) return { ok: false, issues };
  return {
    ok: true,
    config: {
      bundleDir,
      stateDir: writable.stateDir[1],
      cacheDir: writable.cacheDir[1],
      logDir: writable.logDir[1],
      tempDir: writable.tempDir[1],
      publicBind,
      adminBind,
      adminCaFile: caFile,
      adminCertFile: certFile,
      adminKeyFile: keyFile,
      readinessPath,
      livenessPath,
      revisionId,
      drainTimeoutMs,
      accessLog: accessLogRaw !== "off",
    },
  };
}

type IssueFn = (variable: string, value: string | null, message: string, hint: string) => void;

function parseBindVariable(variable: string, value: string, issue: IssueFn): HostPort | null {
  const parsed = parseHostPort(value);
  if (!parsed)
    issue(
      variable,
      value,
      `${variable} is not host:port`,
      `use host:port with a port 0-65535 (0 picks a free port), IPv6 in brackets: [::1]:8433`,
    );
  return parsed;
}

/** Why `host` is not acceptable for the admin endpoint, or null when it is. */
export function adminHostProblem(host: string): string | null {
  if (host === "0.0.0.0" || host === "::" || /^(0{1,4}:){7}0{1,4}$/.test(host) || host === "::0") {
    return `the admin endpoint must not listen on the wildcard address ${host} (it would be reachable from other machines)`;
  }
  if (isIP(host) !== 0)
    return isLoopback(host) ? null : `the admin endpoint must listen on a loopback address, not ${host}`;
  if (host.toLowerCase() === "localhost") return null;
  return `the admin endpoint host must be a loopback IP address or localhost, not the name ${host}`;
}

function healthPath(variable: string, value: string, issue: IssueFn): string {
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(value) || value.includes("//") || value.startsWith("/admin/")) {
    issue(
      variable,
      value,
      `${variable} must be an absolute URL path of letters, digits and ./_~- (not under /admin/)`,
      "use e.g. /ready or /health",
    );
    return "";
  }
  return value;
}

function checkBundleDir(variable: string, dir: string, issue: IssueFn): void {
  let stat;
  try {
    stat = statSync(dir);
  } catch (error) {
    issue(
      variable,
      dir,
      `the bundle directory cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      "mount or extract the bundle there first",
    );
    return;
  }
  if (!stat.isDirectory()) {
    issue(
      variable,
      dir,
      "the bundle path is not a directory",
      "point it at the extracted bundle or the squashfs mount point",
    );
    return;
  }
  if (isOnReadOnlyMount(dir)) return;
  // Root ignores permission bits, so "read-only" is judged by the bits themselves: a bundle
  // nobody may write to, or one on a read-only mount (checked above).
  const writableEntry = findWritableEntry(dir);
  if (writableEntry !== null) {
    issue(
      variable,
      dir,
      `the bundle is not read-only: ${writableEntry} has write permission bits and the directory is not on a read-only mount`,
      "mount the bundle read-only (squashfs) or remove write permissions: chmod -R a-w <bundle dir>",
    );
  }
}

function findWritableEntry(root: string): string | null {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    if ((lstatSync(dir).mode & 0o222) !== 0) return dir;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (!entry.isSymbolicLink() && (lstatSync(path).mode & 0o222) !== 0) return path;
    }
  }
  return null;
}

/** True when `dir` lies on a mount whose per-mount or superblock options include `ro`. */
export function isOnReadOnlyMount(dir: string): boolean {
  try {
    return mountIsReadOnly(realpathSync(dir), readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return false;
  }
}

/** Given a real path and a `/proc/self/mountinfo` text: is the mount that holds the path read-only? */
export function mountIsReadOnly(realPath: string, mountinfo: string): boolean {
  let best: { point: string; ro: boolean } | null = null;
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const fields = left.split(" ");
    const point = unescapeMountPath(fields[4] ?? "");
    const superOptions = right.split(" ")[2] ?? "";
    const within = point === "/" || realPath === point || realPath.startsWith(`${point}/`);
    // Later lines are mounted over earlier ones at the same point, hence >=.
    if (within && (!best || point.length >= best.point.length)) {
      const ro = (fields[5] ?? "").split(",").includes("ro") || superOptions.split(",").includes("ro");
      best = { point, ro };
    }
  }
  return best?.ro ?? false;
}

function unescapeMountPath(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function checkWritableDir(variable: string, dir: string, issue: IssueFn): void {
  try {
    if (!statSync(dir).isDirectory()) {
      issue(variable, dir, `${variable} is not a directory`, "create the directory (the deployer normally does)");
      return;
    }
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === "ENOENT"
        ? `create it: mkdir -p ${dir}`
        : "make it writable by the runtime's user, on a writable filesystem";
    issue(variable, dir, `${variable} does not exist or is not writable (${code ?? String(error)})`, hint);
  }
}

function checkPemFile(variable: string, file: string, issue: IssueFn): void {
  try {
    if (!readFileSync(file, "utf8").includes("-----BEGIN ")) {
      issue(
        variable,
        file,
        `${variable} is not a PEM file`,
        "point it at the PEM file written by createAdminCertificates (or openssl)",
      );
    }
  } catch (error) {
    issue(
      variable,
      file,
      `${variable} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      "check the path and that the runtime's user may read it",
    );
  }
}
