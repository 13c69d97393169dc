import { z } from "zod";
import { GreenticError, type ValidationIssue } from "./errors.js";
import { isLoopback } from "@greentic/io-kit";

/**
 * DeploymentSpec v1: the single-VM deployment document (camelCase YAML or JSON, as in the
 * product direction). Unlike the reference, every field but `metadata.name` and
 * `spec.bundle.source` has a documented default ({@link DEPLOYMENT_SPEC_DEFAULTS}).
 */

/** Defaults applied by {@link parseDeploymentSpec}. `<name>` stands for `metadata.name`. */
export const DEPLOYMENT_SPEC_DEFAULTS = {
  target: "single-vm",
  bundleFormat: "squashfs",
  bundleMountPath: "/mnt/greentic/bundles/<name>",
  arch: "x86_64",
  engine: "podman",
  node: "/usr/bin/node",
  adminBind: "127.0.0.1:8433",
  publicBind: "127.0.0.1:8080",
  caFile: "/etc/greentic/<name>/admin/ca.crt",
  certFile: "/etc/greentic/<name>/admin/server.crt",
  keyFile: "/etc/greentic/<name>/admin/server.key",
  stateDir: "/var/lib/greentic/<name>/state",
  cacheDir: "/var/lib/greentic/<name>/cache",
  logDir: "/var/log/greentic/<name>",
  tempDir: "/var/lib/greentic/<name>/tmp",
  manager: "systemd",
  user: "greentic",
  group: "greentic",
  readinessPath: "/ready",
  livenessPath: "/health",
  startupTimeoutSeconds: 120,
  strategy: "recreate",
  drainSeconds: 30,
  sticky: false,
  revisionPorts: "20000-20999",
} as const;

const API_VERSION = "greentic.ai/v1alpha1";
const POSIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

const path = z.string().min(1);
const httpPath = z.string().regex(/^\/[\x21-\x7e]*$/, "must start with / and contain no spaces");

/** The structure of a DeploymentSpec as written by a user (defaults not yet applied). */
export const DeploymentSpecSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("Deployment"),
  metadata: z.strictObject({ name: z.string() }),
  spec: z.strictObject({
    target: z.literal("single-vm").optional(),
    bundle: z.strictObject({
      /** `file:///abs/path` or an absolute path to a `.gtbundle` (squashfs) file. */
      source: z.string().min(1),
      format: z.literal("squashfs").optional(),
      /** Where the bundle is mounted read-only. */
      mountPath: path.optional(),
    }),
    runtime: z
      .strictObject({
        /** Container mode: the OCI image that runs the runtime. */
        image: z.string().min(1).optional(),
        /** Container mode: `podman` (default) or `docker`. */
        engine: z.enum(["podman", "docker"]).optional(),
        /** Native mode: the runtime executable (a self-contained `.js` run by `node`, or a binary). */
        binary: path.optional(),
        /** Native mode: the Node.js used to run a `.js` runtime. */
        node: path.optional(),
        arch: z.string().optional(),
        /** `host:port` of the runtime's public (bundle-serving) listener; port 0 = any free port. */
        publicBind: z.string().optional(),
        admin: z
          .strictObject({
            bind: z.string().optional(),
            mtls: z
              .strictObject({ caFile: path.optional(), certFile: path.optional(), keyFile: path.optional() })
              .optional(),
          })
          .optional(),
      })
      .optional(),
    storage: z
      .strictObject({
        stateDir: path.optional(),
        cacheDir: path.optional(),
        logDir: path.optional(),
        tempDir: path.optional(),
      })
      .optional(),
    service: z
      .strictObject({
        manager: z.literal("systemd").optional(),
        user: z.string().optional(),
        group: z.string().optional(),
      })
      .optional(),
    health: z
      .strictObject({
        readinessPath: httpPath.optional(),
        livenessPath: httpPath.optional(),
        startupTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
      })
      .optional(),
    rollout: z
      .strictObject({
        /**
         * `recreate` (default): one revision, stop old then start new. `canary`: every warmed revision
         * runs beside the others behind an HAProxy bound to `spec.runtime.publicBind`, which splits
         * requests by exact basis points.
         */
        strategy: z.enum(["recreate", "canary"]).optional(),
        /** Canary: how long a drained revision may finish its in-flight requests before its unit stops. */
        drainSeconds: z.number().int().min(0).max(3600).optional(),
        /** Canary: a cookie keeps a client on its revision while that revision's weight is above 0. */
        sticky: z.boolean().optional(),
        /** Canary: loopback port range (`FROM-TO`) for the revisions' public and admin listeners. */
        revisionPorts: z
          .string()
          .regex(/^\d{1,5}-\d{1,5}$/, "must be FROM-TO, e.g. 20000-20999")
          .optional(),
      })
      .optional(),
  }),
});

export type DeploymentSpecInput = z.input<typeof DeploymentSpecSchema>;

/** A validated DeploymentSpec with every default applied. */
export interface DeploymentSpec {
  apiVersion: typeof API_VERSION;
  kind: "Deployment";
  metadata: { name: string };
  spec: {
    target: "single-vm";
    bundle: { source: string; format: "squashfs"; mountPath: string };
    runtime: {
      image?: string;
      engine?: "podman" | "docker";
      binary?: string;
      node?: string;
      arch: "x86_64";
      publicBind: string;
      admin: { bind: string; mtls: { caFile: string; certFile: string; keyFile: string } };
    };
    storage: { stateDir: string; cacheDir: string; logDir: string; tempDir: string };
    service: { manager: "systemd"; user: string; group: string };
    health: { readinessPath: string; livenessPath: string; startupTimeoutSeconds: number };
    rollout: {
      strategy: "recreate" | "canary";
      drainSeconds: number;
      sticky: boolean;
      /** `FROM-TO`, as written (a validated spec round-trips through the schema). */
      revisionPorts: string;
    };
  };
}

/** `native` when the spec names a runtime binary, `container` when it names an image. */
export type DeploymentMode = "native" | "container";

export function deploymentMode(spec: DeploymentSpec): DeploymentMode {
  return spec.spec.runtime.image === undefined ? "native" : "container";
}

/** Host and port of a validated admin bind (`[::1]:8433` gives host `::1`). */
export function parseAdminBind(bind: string): { host: string; port: number } {
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(bind);
  if (!m) throw new GreenticError("invalid-argument", `admin bind ${JSON.stringify(bind)} is not host:port`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
}

export type DeploymentSpecResult =
  | { ok: true; value: DeploymentSpec }
  | { ok: false; issues: ValidationIssue[]; summary: string };

export interface DeploymentSpecParseOptions {
  /** File name (or other label) used in messages. */
  source?: string;
}

/** Validates an already-parsed DeploymentSpec document and applies the defaults. */
export function validateDeploymentSpec(value: unknown, options: DeploymentSpecParseOptions = {}): DeploymentSpecResult {
  const source = options.source ?? "deployment spec";
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return fail(source, [
      { path: "", code: "invalid-type", message: "must be a mapping with apiVersion, kind, metadata and spec" },
    ]);
  }
  const parsed = DeploymentSpecSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) return fail(source, parsed.error.issues.flatMap(toIssues));
  const issues: ValidationIssue[] = [];
  const spec = applyDefaults(parsed.data, issues);
  checkSemantics(spec, issues);
  return issues.length > 0 ? fail(source, issues) : { ok: true, value: spec };
}

/** Internal: the failed result, its summary naming the first issue. */
export function fail(
  source: string,
  issues: ValidationIssue[],
): { ok: false; issues: ValidationIssue[]; summary: string } {
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return { ok: false, issues, summary: `${source}: ${first.path || "(document)"}: ${first.message}${more}` };
}

function toIssues(issue: z.core.$ZodIssue): ValidationIssue[] {
  const at = issue.path.map(String).join(".");
  const join = (key: string) => (at ? `${at}.${key}` : key);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({
        path: join(key),
        code: "unknown-field",
        message: `unknown field ${JSON.stringify(key)}`,
      }));
    case "invalid_value":
      return [
        {
          path: at,
          code: "invalid-value",
          message: `must be ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}, got ${describe(issue.input)}`,
        },
      ];
    case "invalid_type":
      return [
        {
          path: at,
          code: issue.input === undefined ? "required" : "invalid-type",
          message:
            issue.input === undefined
              ? `is required (${issue.expected})`
              : `must be a ${issue.expected}, got ${describe(issue.input)}`,
        },
      ];
    default:
      return [
        { path: at, code: issue.code.replace(/_/g, "-"), message: `${issue.message}, got ${describe(issue.input)}` },
      ];
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function applyDefaults(input: z.output<typeof DeploymentSpecSchema>, issues: ValidationIssue[]): DeploymentSpec {
  const d = DEPLOYMENT_SPEC_DEFAULTS;
  const name = input.metadata.name;
  const sub = (template: string) => template.replace("<name>", name);
  const s = input.spec;
  const r = s.runtime ?? {};
  const runtime: DeploymentSpec["spec"]["runtime"] = {
    arch: "x86_64",
    publicBind: r.publicBind ?? d.publicBind,
    admin: {
      bind: r.admin?.bind ?? d.adminBind,
      mtls: {
        caFile: r.admin?.mtls?.caFile ?? sub(d.caFile),
        certFile: r.admin?.mtls?.certFile ?? sub(d.certFile),
        keyFile: r.admin?.mtls?.keyFile ?? sub(d.keyFile),
      },
    },
  };
  if (r.arch !== undefined && r.arch !== "x86_64") {
    issues.push(
      r.arch === "aarch64" || r.arch === "arm64"
        ? {
            path: "spec.runtime.arch",
            code: "arch-unsupported",
            message: `${JSON.stringify(r.arch)} is not supported by single-vm v1 yet: only x86_64 Linux servers are (aarch64 may come later)`,
          }
        : { path: "spec.runtime.arch", code: "invalid-value", message: `must be "x86_64", got ${describe(r.arch)}` },
    );
  }
  if (r.image !== undefined && r.binary !== undefined) {
    issues.push({
      path: "spec.runtime",
      code: "runtime-ambiguous",
      message: "set either image (container mode) or binary (native mode), not both",
    });
  } else if (r.image === undefined && r.binary === undefined) {
    issues.push({
      path: "spec.runtime",
      code: "runtime-missing",
      message: "set binary (native mode: the runtime executable) or image (container mode)",
    });
  }
  if (r.image !== undefined) {
    runtime.image = r.image;
    runtime.engine = r.engine ?? d.engine;
    if (r.node !== undefined)
      issues.push({
        path: "spec.runtime.node",
        code: "mode-mismatch",
        message: "node applies to native mode (binary) only",
      });
  }
  if (r.binary !== undefined) {
    runtime.binary = r.binary;
    runtime.node = r.node ?? d.node;
    if (r.engine !== undefined)
      issues.push({
        path: "spec.runtime.engine",
        code: "mode-mismatch",
        message: "engine applies to container mode (image) only",
      });
  }
  return {
    apiVersion: API_VERSION,
    kind: "Deployment",
    metadata: { name },
    spec: {
      target: "single-vm",
      bundle: { source: s.bundle.source, format: "squashfs", mountPath: s.bundle.mountPath ?? sub(d.bundleMountPath) },
      runtime,
      storage: {
        stateDir: s.storage?.stateDir ?? sub(d.stateDir),
        cacheDir: s.storage?.cacheDir ?? sub(d.cacheDir),
        logDir: s.storage?.logDir ?? sub(d.logDir),
        tempDir: s.storage?.tempDir ?? sub(d.tempDir),
      },
      service: { manager: "systemd", user: s.service?.user ?? d.user, group: s.service?.group ?? d.group },
      health: {
        readinessPath: s.health?.readinessPath ?? d.readinessPath,
        livenessPath: s.health?.livenessPath ?? d.livenessPath,
        startupTimeoutSeconds: s.health?.startupTimeoutSeconds ?? d.startupTimeoutSeconds,
      },
      rollout: rolloutOf(s.rollout, issues),
    },
  };
}

function rolloutOf(
  r: NonNullable<z.output<typeof DeploymentSpecSchema>["spec"]["rollout"]> | undefined,
  issues: ValidationIssue[],
): DeploymentSpec["spec"]["rollout"] {
  const d = DEPLOYMENT_SPEC_DEFAULTS;
  const [from, to] = (r?.revisionPorts ?? d.revisionPorts).split("-").map(Number) as [number, number];
  if (!(from >= 1024 && to <= 65535 && to - from >= 3)) {
    issues.push({
      path: "spec.rollout.revisionPorts",
      code: "invalid-value",
      message: `${JSON.stringify(r?.revisionPorts)} must be FROM-TO with 1024 <= FROM, TO <= 65535 and room for two revisions (4 ports)`,
    });
  }
  return {
    strategy: r?.strategy ?? d.strategy,
    drainSeconds: r?.drainSeconds ?? d.drainSeconds,
    sticky: r?.sticky ?? d.sticky,
    revisionPorts: `${from}-${to}`,
  };
}

function checkSemantics(spec: DeploymentSpec, issues: ValidationIssue[]): void {
  const name = spec.metadata.name;
  if (name === "") {
    issues.push({ path: "metadata.name", code: "name-empty", message: "must not be empty" });
  } else if (name.includes("/") || name.includes("\\")) {
    issues.push({
      path: "metadata.name",
      code: "name-path",
      message: `${JSON.stringify(name)} must not contain / or \\ (it names units and directories)`,
    });
  } else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    issues.push({
      path: "metadata.name",
      code: "name-invalid",
      message: `${JSON.stringify(name)} must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    });
  }
  checkBind(spec.spec.runtime.admin.bind, issues);
  if (spec.spec.rollout.strategy === "canary" && /:0$/.test(spec.spec.runtime.publicBind)) {
    issues.push({
      path: "spec.runtime.publicBind",
      code: "bind-port-zero",
      message: `${JSON.stringify(spec.spec.runtime.publicBind)}: with rollout.strategy canary the proxy listens here, so it needs a fixed port`,
    });
  }
  if (
    !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(0|[1-9]\d{0,4})$/.test(spec.spec.runtime.publicBind) ||
    parseAdminBind(spec.spec.runtime.publicBind).port > 65535
  ) {
    issues.push({
      path: "spec.runtime.publicBind",
      code: "bind-invalid",
      message: `${JSON.stringify(spec.spec.runtime.publicBind)} is not host:port (port 0..65535; IPv6 in brackets)`,
    });
  }

  const abs = (p: string, at: string) => {
    if (!isNormalAbsolute(p)) {
      issues.push({
        path: at,
        code: "path-not-absolute",
        message: `${JSON.stringify(p)} must be a normalised absolute path (no "..", ".", "//" or trailing /) other than /`,
      });
      return false;
    }
    return true;
  };
  const storage = Object.entries(spec.spec.storage).map(([key, p]) => ({ at: `spec.storage.${key}`, p }));
  const mount = { at: "spec.bundle.mountPath", p: spec.spec.bundle.mountPath };
  const okStorage = storage.filter(({ at, p }) => abs(p, at));
  const mountOk = abs(mount.p, mount.at);
  for (const [i, a] of okStorage.entries()) {
    for (const b of okStorage.slice(i + 1)) {
      if (a.p === b.p)
        issues.push({
          path: b.at,
          code: "storage-duplicate",
          message: `${JSON.stringify(b.p)} is also used by ${a.at}: each writable dir must be distinct`,
        });
      else if (isInside(b.p, a.p))
        issues.push({
          path: b.at,
          code: "storage-nested",
          message: `${JSON.stringify(b.p)} is inside ${a.at} (${a.p})`,
        });
      else if (isInside(a.p, b.p))
        issues.push({
          path: a.at,
          code: "storage-nested",
          message: `${JSON.stringify(a.p)} is inside ${b.at} (${b.p})`,
        });
    }
    if (mountOk && (a.p === mount.p || isInside(a.p, mount.p) || isInside(mount.p, a.p))) {
      issues.push({
        path: a.at,
        code: "storage-in-bundle",
        message: `${JSON.stringify(a.p)} overlaps the read-only bundle mount ${mount.p}`,
      });
    }
  }
  const mtls = spec.spec.runtime.admin.mtls;
  for (const key of ["caFile", "certFile", "keyFile"] as const) abs(mtls[key], `spec.runtime.admin.mtls.${key}`);
  const source = spec.spec.bundle.source;
  const sourcePath = source.startsWith("file://") ? source.slice("file://".length) : source;
  if (!isNormalAbsolute(sourcePath)) {
    issues.push({
      path: "spec.bundle.source",
      code: "source-invalid",
      message: `${JSON.stringify(source)} must be file:///absolute/path or an absolute path to a .gtbundle (squashfs) file`,
    });
  }
  const runtime = spec.spec.runtime;
  if (runtime.binary !== undefined) {
    const p = runtime.binary.startsWith("file://") ? runtime.binary.slice(7) : runtime.binary;
    if (!isNormalAbsolute(p))
      issues.push({
        path: "spec.runtime.binary",
        code: "path-not-absolute",
        message: `${JSON.stringify(runtime.binary)} must be an absolute path`,
      });
  }
  if (runtime.node !== undefined) abs(runtime.node, "spec.runtime.node");
  if (runtime.image !== undefined && /\s/.test(runtime.image)) {
    issues.push({
      path: "spec.runtime.image",
      code: "image-invalid",
      message: `${JSON.stringify(runtime.image)} must not contain whitespace`,
    });
  }
  const svc = spec.spec.service;
  for (const key of ["user", "group"] as const) {
    const value = svc[key];
    if (value === "root") {
      issues.push({
        path: `spec.service.${key}`,
        code: "service-root",
        message: `must be a dedicated unprivileged ${key}, not "root"`,
      });
    } else if (!POSIX_NAME.test(value)) {
      issues.push({
        path: `spec.service.${key}`,
        code: "service-name-invalid",
        message: `${JSON.stringify(value)} is not a valid ${key} name (lowercase letters, digits, "_" or "-", up to 32)`,
      });
    }
  }
}

function checkBind(bind: string, issues: ValidationIssue[]): void {
  const at = "spec.runtime.admin.bind";
  const m = /^(\[[^\]]*\]|[^:[\]]*):([^:]*)$/.exec(bind);
  if (!m) {
    const hint = /^[0-9a-fA-F:]+$/.test(bind) && bind.includes("::") ? ' (write IPv6 as "[::1]:8433")' : "";
    issues.push({ path: at, code: "bind-invalid", message: `${JSON.stringify(bind)} is not host:port${hint}` });
    return;
  }
  const host = m[1]!;
  const portText = m[2]!;
  if (host === "0.0.0.0" || host === "[::]" || host === "" || host === "*") {
    issues.push({
      path: at,
      code: "bind-wildcard",
      message: `${JSON.stringify(bind)} would expose the admin API on every interface: it must listen on loopback only (127.0.0.1, [::1] or localhost)`,
    });
    return;
  }
  // The I/O kit's one loopback rule (127.0.0.0/8, ::1, ::ffff:127.x), as the runtime applies it.
  const bare = host.replace(/^\[(.*)\]$/u, "$1");
  const loopback = host.startsWith("[")
    ? bare.includes(":") && isLoopback(bare)
    : bare.toLowerCase() === "localhost" || isLoopback(bare);
  if (!loopback) {
    issues.push({
      path: at,
      code: "bind-not-loopback",
      message: `${JSON.stringify(bind)}: host must be a loopback address (127.0.0.0/8 or [::1]) or localhost (the admin API is loopback-only)`,
    });
    return;
  }
  const port = /^[1-9]\d{0,4}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    issues.push({
      path: at,
      code: "bind-port",
      message: `${JSON.stringify(bind)}: port must be an integer from 1 to 65535`,
    });
  }
}

function isNormalAbsolute(p: string): boolean {
  if (!p.startsWith("/") || p === "/" || p.endsWith("/") || p.includes("//") || p.includes("\0")) return false;
  return !p.split("/").some((seg) => seg === "." || seg === "..");
}

function isInside(child: string, parent: string): boolean {
  return child.startsWith(`${parent}/`);
}
