import { GreenticError } from "./errors.js";

/** A parsed `<path>@<semver>` pack descriptor. `path` is the registry key. */
export interface PackDescriptor {
  path: string;
  version: string;
  /** The descriptor as written: `${path}@${version}`. */
  raw: string;
}

/** The reference's `PackDescriptor` parse errors, kebab-cased (`multiple-at` is unreachable there and here). */
export type PackDescriptorErrorCode =
  | "missing-version"
  | "multiple-at"
  | "empty-path"
  | "path-missing-dot"
  | "invalid-path-char"
  | "invalid-semver";

export type PackDescriptorResult =
  | { ok: true; value: PackDescriptor }
  | { ok: false; code: PackDescriptorErrorCode; message: string };

/** The SemVer 2.0.0 grammar (semver.org), pre-release and build metadata allowed, no `v` prefix. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const U64_MAX = 18_446_744_073_709_551_615n;

/**
 * True when `value` is a SemVer 2.0.0 version string whose major, minor and patch each fit in
 * an unsigned 64-bit integer (the `semver` crate of the reference refuses larger ones).
 */
export function isSemver(value: string): boolean {
  const m = SEMVER.exec(value);
  if (!m) return false;
  return [m[1]!, m[2]!, m[3]!].every((n) => n.length < 20 || BigInt(n) <= U64_MAX);
}

/** Parses a descriptor and reports the first problem as data (never throws). */
export function checkPackDescriptor(input: string): PackDescriptorResult {
  const shown = JSON.stringify(input);
  const at = input.indexOf("@");
  if (at < 0) return { ok: false, code: "missing-version", message: `pack descriptor ${shown} has no "@<version>"` };
  // The reference splits on the first `@` only (`splitn(2, '@')`): a second `@` stays in the
  // version and fails there as invalid-semver, so `multiple-at` is never reported.
  const path = input.slice(0, at);
  const version = input.slice(at + 1);
  if (path.length === 0)
    return { ok: false, code: "empty-path", message: `pack descriptor ${shown} has an empty path before "@"` };
  if (!path.includes(".")) {
    return {
      ok: false,
      code: "path-missing-dot",
      message: `pack descriptor path ${JSON.stringify(path)} must contain a "." (e.g. greentic.deployer.local-process)`,
    };
  }
  for (const c of path) {
    if (!/[a-z0-9.-]/.test(c)) {
      return {
        ok: false,
        code: "invalid-path-char",
        message: `pack descriptor path ${JSON.stringify(path)} contains ${JSON.stringify(c)}; only a-z, 0-9, "-" and "." are allowed`,
      };
    }
  }
  if (!isSemver(version)) {
    return {
      ok: false,
      code: "invalid-semver",
      message: `pack descriptor ${shown}: version ${JSON.stringify(version)} is not a SemVer version (e.g. 0.1.0)`,
    };
  }
  return { ok: true, value: { path, version, raw: input } };
}

/**
 * Parses `<path>@<semver>`: split on the first `@`, the path needs a `.` and only
 * `[a-z0-9.-]`, the version must be SemVer. Throws `GreenticError("validation")` whose
 * `details.code` (and single issue code) is the reference's error name, kebab-cased.
 */
export function parsePackDescriptor(input: string): PackDescriptor {
  const result = checkPackDescriptor(input);
  if (result.ok) return result.value;
  throw new GreenticError("validation", result.message, {
    hint: "write a pack descriptor as <namespace>.<slot>.<name>@<semver>, e.g. greentic.deployer.local-process@0.1.0",
    issues: [{ path: "", code: result.code, message: result.message }],
    details: { code: result.code, value: input },
  });
}

/** Formats a descriptor back to its wire form. */
export function formatPackDescriptor(descriptor: Pick<PackDescriptor, "path" | "version">): string {
  return `${descriptor.path}@${descriptor.version}`;
}
