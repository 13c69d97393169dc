import { join } from "node:path";
import {
  BUNDLE_ID_PATTERN,
  BundleManifestDocumentSchema,
  isSemver as isSemverSpec,
  canonicalJson,
  GreenticError,
  parseDocument,
  sha256Hex,
  type ValidationIssue,
} from "@greentic/deploy-spec";
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

/** Bundle ids: what the store and the URL routes accept without quoting. */
export const BUNDLE_ID = BUNDLE_ID_PATTERN;

/** True when `value` is a semantic version (semver.org 2.0.0). */
export function isSemver(value: string): boolean {
  return isSemverSpec(value);
}

/**
 * Validates a parsed `bundle-manifest.json` against deploy-spec's `BundleManifestDocumentSchema`,
 * through its one issues path; returns the issues as data (empty when valid).
 */
export function validateManifest(value: unknown): ValidationIssue[] {
  const parsed = parseDocument(BundleManifestDocumentSchema, value);
  return parsed.ok ? [] : parsed.issues;
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
