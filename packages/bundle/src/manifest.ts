import { join } from "node:path";
import { canonicalJson, GreenticError, sha256Hex, type ValidationIssue } from "@greentic/deploy-spec";
import { hashFile } from "@greentic/io-kit";
import { symlinkEscape } from "./entries.js";
import { walkTree } from "./walk.js";

/** The `schema` of `bundle-manifest.json`. */
export const BUNDLE_MANIFEST_SCHEMA = "greentic.bundle-manifest.v1";
/** Name of the manifest at the root of every `.gtbundle`. */
export const MANIFEST_FILE = "bundle-manifest.json";

/** One content entry of a bundle, as recorded in the manifest. */
export interface BundleEntry {
  /** Relative `/`-separated path. */
  path: string;
  type: "file" | "dir" | "symlink";
  /** Bytes for files, target length in bytes for symlinks, 0 for directories. */
  size: number;
  /** Permission bits as 4 octal digits, e.g. `"0644"`. */
  mode: string;
  /** Lowercase hex SHA-256 of a file's bytes (files only). */
  sha256?: string;
  /** A symlink's target as stored (symlinks only). */
  target?: string;
}

/** What the bundle serves first: today only static sites with an index document. */
export interface BundleEntryPoint {
  kind: "static";
  index: string;
}

/** `bundle-manifest.json`: written by {@link buildBundle}, read by inspect, verify and stage. */
export interface BundleManifest {
  schema: typeof BUNDLE_MANIFEST_SCHEMA;
  bundle_id: string;
  version: string;
  /** RFC 3339, seconds precision, UTC. */
  created_at: string;
  /** `sha256:<hex>`, see {@link contentDigest}. */
  content_digest: string;
  entries: BundleEntry[];
  entry?: BundleEntryPoint;
}

/**
 * The content digest: `sha256:` + hex SHA-256 of the canonical JSON (keys sorted, compact) of
 * the `entries` array, which lists every content entry except `bundle-manifest.json`, sorted by
 * the UTF-8 bytes of `path`. Each entry holds `path`, `type`, `size`, `mode` and, for files,
 * `sha256`, for symlinks, `target`. Owners and times are not part of it.
 */
export function contentDigest(entries: readonly BundleEntry[]): string {
  return `sha256:${sha256Hex(canonicalJson(entries))}`;
}

/** Formats permission bits the way the manifest stores them. */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Describes a bundle tree as manifest entries (the root manifest excluded). Anything but
 * files, directories and symlinks that stay inside the tree is refused.
 */
export async function describeTree(dir: string): Promise<BundleEntry[]> {
  const entries: BundleEntry[] = [];
  for (const node of await walkTree(dir)) {
    if (node.path === MANIFEST_FILE) continue;
    const mode = formatMode(node.mode);
    if (node.type === "file") {
      entries.push({
        path: node.path,
        type: "file",
        size: node.size,
        mode,
        sha256: (await hashFile(join(dir, node.path))).sha256,
      });
    } else if (node.type === "dir") {
      entries.push({ path: node.path, type: "dir", size: 0, mode });
    } else if (node.type === "symlink") {
      const target = node.target ?? "";
      const escape = symlinkEscape(node.path.split("/").length - 1, target);
      if (escape !== undefined) {
        throw new GreenticError(
          "validation",
          `${join(dir, node.path)} is a symlink to ${JSON.stringify(target)}, which ${escape}.`,
          {
            path: node.path,
            hint: "Make the symlink relative and keep its target inside the bundle ('..' only at the start).",
            details: { code: "symlink-escape" },
          },
        );
      }
      entries.push({ path: node.path, type: "symlink", size: Buffer.byteLength(target), mode, target });
    } else {
      throw new GreenticError(
        "validation",
        `${join(dir, node.path)} is a ${node.type} node; bundles hold files, directories and symlinks only.`,
        {
          path: node.path,
          hint: "Remove device, FIFO and socket nodes from the bundle source.",
          details: { code: "special-file" },
        },
      );
    }
  }
  return entries;
}

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
/** Bundle ids: what the store and the URL routes accept without quoting. */
export const BUNDLE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;
const SHA256_REF = /^sha256:[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const MODE = /^[0-7]{4}$/;

/** True when `value` is a semantic version (semver.org 2.0.0). */
export function isSemver(value: string): boolean {
  return SEMVER.test(value);
}

/** Validates a parsed `bundle-manifest.json`; returns issues as data (empty when valid). */
export function validateManifest(value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (path: string, code: string, message: string) => issues.push({ path, code, message });
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    add("", "invalid-type", "the manifest must be a JSON object");
    return issues;
  }
  const m = value as Record<string, unknown>;
  const known = new Set(["schema", "bundle_id", "version", "created_at", "content_digest", "entries", "entry"]);
  for (const key of Object.keys(m))
    if (!known.has(key)) add(key, "unknown-field", `unknown field ${JSON.stringify(key)}`);
  if (m.schema !== BUNDLE_MANIFEST_SCHEMA)
    add(
      "schema",
      "schema-mismatch",
      `expected ${JSON.stringify(BUNDLE_MANIFEST_SCHEMA)}, got ${JSON.stringify(m.schema)}`,
    );
  if (typeof m.bundle_id !== "string" || !BUNDLE_ID.test(m.bundle_id))
    add("bundle_id", "invalid-bundle-id", `invalid bundle id ${JSON.stringify(m.bundle_id)}`);
  if (typeof m.version !== "string" || !SEMVER.test(m.version))
    add("version", "invalid-semver", `not a semantic version: ${JSON.stringify(m.version)}`);
  if (typeof m.created_at !== "string" || !RFC3339.test(m.created_at) || Number.isNaN(Date.parse(m.created_at))) {
    add("created_at", "invalid-timestamp", `not an RFC 3339 timestamp: ${JSON.stringify(m.created_at)}`);
  }
  if (typeof m.content_digest !== "string" || !SHA256_REF.test(m.content_digest)) {
    add("content_digest", "invalid-digest", `expected sha256:<64 hex>, got ${JSON.stringify(m.content_digest)}`);
  }
  if (!Array.isArray(m.entries)) {
    add("entries", "invalid-type", "entries must be an array");
  } else {
    m.entries.forEach((raw: unknown, i) => {
      const at = `entries.${i}`;
      if (typeof raw !== "object" || raw === null) return add(at, "invalid-type", "an entry must be an object");
      const e = raw as Record<string, unknown>;
      if (typeof e.path !== "string" || e.path === "")
        add(`${at}.path`, "invalid-path", "path must be a non-empty string");
      if (e.type !== "file" && e.type !== "dir" && e.type !== "symlink")
        add(`${at}.type`, "invalid-type", `unknown entry type ${JSON.stringify(e.type)}`);
      if (typeof e.size !== "number" || !Number.isSafeInteger(e.size) || e.size < 0)
        add(`${at}.size`, "invalid-size", "size must be a non-negative integer");
      if (typeof e.mode !== "string" || !MODE.test(e.mode))
        add(`${at}.mode`, "invalid-mode", `mode must be 4 octal digits, got ${JSON.stringify(e.mode)}`);
      if (e.type === "file" && (typeof e.sha256 !== "string" || !HEX64.test(e.sha256)))
        add(`${at}.sha256`, "invalid-digest", "a file entry needs a 64-hex sha256");
      if (e.type === "symlink" && typeof e.target !== "string")
        add(`${at}.target`, "invalid-target", "a symlink entry needs a target");
    });
  }
  if (m.entry !== undefined) {
    const e = m.entry as Record<string, unknown> | null;
    if (typeof e !== "object" || e === null || e.kind !== "static" || typeof e.index !== "string") {
      add("entry", "invalid-entry", 'entry must be {"kind":"static","index":"<path>"}');
    }
  }
  return issues;
}

/** Parses manifest bytes; throws `validation` naming `source` and the first bad field. */
export function parseManifest(bytes: Buffer | string, source: string): BundleManifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString());
  } catch (error) {
    throw new GreenticError(
      "validation",
      `${source}: ${MANIFEST_FILE} is not valid JSON (${(error as Error).message}).`,
      {
        path: MANIFEST_FILE,
        hint: "Rebuild the bundle with buildBundle / `op bundles build`.",
        details: { code: "manifest-invalid" },
      },
    );
  }
  const issues = validateManifest(value);
  if (issues.length > 0) {
    const first = issues[0]!;
    throw new GreenticError(
      "validation",
      `${source}: ${MANIFEST_FILE} field ${first.path || "<root>"}: ${first.message}.`,
      {
        path: `${MANIFEST_FILE}${first.path ? `#${first.path}` : ""}`,
        issues,
        hint: "Rebuild the bundle with buildBundle / `op bundles build`.",
        details: { code: "manifest-invalid" },
      },
    );
  }
  return value as BundleManifest;
}
