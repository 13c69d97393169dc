import { createHash } from "node:crypto";
import { lstat, readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { hashFile, writeFileAtomic } from "@greentic/io-kit";
import { contentTypeFor } from "./content-types.js";
import { RuntimeFailure } from "./failure.js";
import type { Logger } from "./log.js";

export const CONTENT_INDEX_SCHEMA = "greentic.runtime.content-index.v1";
export const CONTENT_INDEX_FILE = "content-index.json";
/** The bundle's manifest at its root; read by the runtime, never served publicly. */
export const MANIFEST_FILE = "bundle-manifest.json";

/** One servable file. */
export interface ContentEntry {
  size: number;
  /** Lowercase hex SHA-256 of the bytes; also the ETag. */
  sha256: string;
  content_type: string;
  /** Bundle-relative path of the bytes when the entry is a symlink to a file inside the bundle. */
  target?: string;
}

/** `<cache>/content-index.json`: every servable path, built while warming. */
export interface ContentIndex {
  schema: typeof CONTENT_INDEX_SCHEMA;
  /** Real path of the bundle the index describes. */
  bundle_dir: string;
  /** `sha256:<hex>` of `bundle-manifest.json`'s bytes: the key for reusing the index. */
  manifest_digest: string | null;
  built_at: string;
  /** File name served for `/` and directory paths. */
  index_document: string;
  /** Bundle-relative, `/`-separated paths. */
  files: Record<string, ContentEntry>;
  directories: string[];
}

/** What the runtime knows about the bundle from its manifest (all null without one). */
export interface BundleInfo {
  realDir: string;
  bundleId: string | null;
  version: string | null;
  /** The manifest's `content_digest`. */
  digest: string | null;
  manifestDigest: string | null;
  indexDocument: string;
  /** The manifest's file entries (path → sha256), when it lists them. */
  manifestFiles: Map<string, string> | null;
}

/** Reads `bundle-manifest.json` when there is one. A manifest that is present but unreadable is fatal. */
export async function readBundleInfo(bundleDir: string): Promise<BundleInfo> {
  const realDir = await realpath(bundleDir);
  const file = join(realDir, MANIFEST_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return {
        realDir,
        bundleId: null,
        version: null,
        digest: null,
        manifestDigest: null,
        indexDocument: "index.html",
        manifestFiles: null,
      };
    }
    throw new RuntimeFailure(
      "io",
      `cannot read ${file}: ${(error as Error).message}`,
      "check the bundle's permissions",
      { path: file },
      error,
    );
  }
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest))
      throw new Error("not a JSON object");
  } catch (error) {
    throw new RuntimeFailure(
      "integrity",
      `${file} is not a JSON object: ${(error as Error).message}`,
      "rebuild the bundle",
      { path: file },
    );
  }
  const text = (value: unknown) => (typeof value === "string" ? value : null);
  const entry = manifest.entry as { kind?: unknown; index?: unknown } | undefined;
  const indexDocument =
    entry?.kind === "static" && typeof entry.index === "string" && isSafeRelativePath(entry.index)
      ? entry.index
      : "index.html";
  let manifestFiles: Map<string, string> | null = null;
  if (Array.isArray(manifest.entries)) {
    manifestFiles = new Map();
    for (const e of manifest.entries as { path?: unknown; type?: unknown; sha256?: unknown }[]) {
      if (e.type === "file" && typeof e.path === "string" && typeof e.sha256 === "string")
        manifestFiles.set(e.path, e.sha256);
    }
  }
  return {
    realDir,
    bundleId: text(manifest.bundle_id),
    version: text(manifest.version),
    digest: text(manifest.content_digest),
    manifestDigest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
    indexDocument,
    manifestFiles,
  };
}

function isSafeRelativePath(path: string): boolean {
  return (
    path !== "" &&
    !path.startsWith("/") &&
    !path.includes("\0") &&
    path.split("/").every((s) => s !== "" && s !== "." && s !== "..")
  );
}

/**
 * Loads `<cacheDir>/content-index.json` when it was built for this exact manifest and bundle
 * path (and the file sizes still agree), otherwise builds it and writes it atomically.
 */
export async function warmContentIndex(
  info: BundleInfo,
  cacheDir: string,
  log: Logger,
): Promise<{ index: ContentIndex; reused: boolean }> {
  const file = join(cacheDir, CONTENT_INDEX_FILE);
  const existing = await loadReusableIndex(file, info);
  if (existing) return { index: existing, reused: true };
  const index = await buildContentIndex(info, log);
  await writeFileAtomic(file, `${JSON.stringify(index)}\n`, { mode: 0o644 });
  return { index, reused: false };
}

async function loadReusableIndex(file: string, info: BundleInfo): Promise<ContentIndex | null> {
  if (info.manifestDigest === null) return null;
  let index: ContentIndex;
  try {
    index = JSON.parse(await readFile(file, "utf8")) as ContentIndex;
  } catch {
    return null;
  }
  if (
    index?.schema !== CONTENT_INDEX_SCHEMA ||
    index.manifest_digest !== info.manifestDigest ||
    index.bundle_dir !== info.realDir ||
    index.index_document !== info.indexDocument ||
    typeof index.files !== "object" ||
    !Array.isArray(index.directories)
  ) {
    return null;
  }
  for (const [path, entry] of Object.entries(index.files)) {
    try {
      if ((await stat(join(info.realDir, entry.target ?? path))).size !== entry.size) return null;
    } catch {
      return null;
    }
  }
  return index;
}

/** Walks the bundle: regular files and symlinks to files inside it; everything else is skipped. */
export async function buildContentIndex(info: BundleInfo, log: Logger): Promise<ContentIndex> {
  const root = info.realDir;
  const files: Record<string, ContentEntry> = {};
  const directories: string[] = [];
  const toHash: { path: string; real: string; target?: string }[] = [];
  const stack = [""];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const dirent of await readdir(join(root, dir), { withFileTypes: true })) {
      const path = dir === "" ? dirent.name : `${dir}/${dirent.name}`;
      const absolute = join(root, path);
      if (dir === "" && dirent.name === MANIFEST_FILE) continue;
      if (dirent.isDirectory()) {
        directories.push(path);
        stack.push(path);
      } else if (dirent.isFile()) {
        toHash.push({ path, real: absolute });
      } else if (dirent.isSymbolicLink()) {
        const real = await realpath(absolute).catch(() => null);
        const inside = real?.startsWith(root + sep);
        const isFile = real !== null && inside && (await lstat(real)).isFile();
        if (!isFile) {
          log.warn("symlink not served", {
            path,
            reason: real === null ? "dangling" : inside ? "not a regular file" : "target leaves the bundle",
          });
          continue;
        }
        toHash.push({ path, real, target: relative(root, real).split(sep).join("/") });
      }
    }
  }
  // A few hashes in flight at once keep the disk busy without opening thousands of files.
  let next = 0;
  const worker = async () => {
    while (next < toHash.length) {
      const item = toHash[next++]!;
      const { size, sha256 } = await hashFile(item.real);
      files[item.path] = {
        size,
        sha256,
        content_type: contentTypeFor(item.path),
        ...(item.target ? { target: item.target } : {}),
      };
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  if (info.manifestFiles) verifyAgainstManifest(info, files);
  const sorted: Record<string, ContentEntry> = {};
  for (const key of Object.keys(files).sort()) sorted[key] = files[key]!;
  return {
    schema: CONTENT_INDEX_SCHEMA,
    bundle_dir: root,
    manifest_digest: info.manifestDigest,
    built_at: new Date().toISOString(),
    index_document: info.indexDocument,
    files: sorted,
    directories: directories.sort(),
  };
}

function verifyAgainstManifest(info: BundleInfo, files: Record<string, ContentEntry>): void {
  const listed = info.manifestFiles!;
  for (const [path, sha256] of listed) {
    const entry = files[path];
    if (!entry || entry.target !== undefined || entry.sha256 !== sha256) {
      throw new RuntimeFailure(
        "integrity",
        `bundle file ${path} ${entry ? "does not match" : "is missing but listed in"} ${MANIFEST_FILE}`,
        "the bundle content was altered after it was built; stage the bundle again",
        { path },
      );
    }
  }
  for (const [path, entry] of Object.entries(files)) {
    if (entry.target === undefined && !listed.has(path)) {
      throw new RuntimeFailure(
        "integrity",
        `bundle file ${path} is not listed in ${MANIFEST_FILE}`,
        "the bundle content was altered after it was built; stage the bundle again",
        { path },
      );
    }
  }
}
