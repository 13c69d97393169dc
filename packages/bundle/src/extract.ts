import { open, lstat, mkdtemp, rename, rm, rmdir, chmod, lchown } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { type CheckedEntry, EntryChecker, rejection, symlinkEscape } from "./entries.js";
import { type BundleLimits, resolveLimits } from "./limits.js";
import { listSquashfs, runTool } from "./tools.js";
import { walkTree } from "./walk.js";
import { extractTarInto, listTar } from "./tar.js";
import { extractZipInto, listZip } from "./zip.js";

/** Archive formats the safe extractor reads. */
export type ArchiveFormat = "squashfs" | "tar" | "tar.gz" | "zip";

/** What a successful extraction produced. */
export interface ExtractResult {
  /** Absolute path of the extracted tree. */
  destDir: string;
  format: ArchiveFormat;
  /** Every entry, checked and normalised, in archive order. */
  entries: CheckedEntry[];
  /** Content bytes written. */
  totalBytes: number;
}

/** Options of {@link extractArchive}. */
export interface ExtractOptions {
  /** Overrides of {@link DEFAULT_BUNDLE_LIMITS}. */
  limits?: Partial<BundleLimits> | undefined;
  /** Skip format detection. */
  format?: ArchiveFormat | undefined;
}

/** Checks an archive file exists and is a regular file; returns its size in bytes. */
export async function archiveSize(file: string): Promise<number> {
  let st;
  try {
    st = await lstat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GreenticError(
      code === "ENOENT" ? "not-found" : "io",
      `Cannot read archive ${file}: ${(error as Error).message}`,
      {
        path: file,
        hint: code === "ENOENT" ? "Check the path of the bundle or archive." : "Check the file's permissions.",
        cause: error,
      },
    );
  }
  if (!st.isFile()) {
    throw new GreenticError("invalid-argument", `Archive ${file} is not a regular file.`, {
      path: file,
      hint: "Pass the path of a .gtbundle, .tar, .tar.gz or .zip file (symlinks are not followed).",
    });
  }
  return st.size;
}

/** Detects the archive format from its first bytes. */
export async function detectFormat(file: string): Promise<ArchiveFormat> {
  const handle = await open(file, "r");
  const head = Buffer.alloc(512);
  try {
    await handle.read(head, 0, 512, 0);
  } finally {
    await handle.close();
  }
  if (head.subarray(0, 4).toString("latin1") === "hsqs") return "squashfs";
  if (head[0] === 0x1f && head[1] === 0x8b) return "tar.gz";
  if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6))
    return "zip";
  if (head.subarray(257, 262).toString("latin1") === "ustar") return "tar";
  throw new GreenticError("invalid-argument", `Archive ${file} is not a squashfs image, tar, tar.gz or zip file.`, {
    path: file,
    hint: "Bundles are .gtbundle squashfs images; tar, tar.gz and zip archives are also accepted.",
    details: { code: "unknown-format" },
  });
}

/**
 * Safely extracts a `.gtbundle` (squashfs) into `destDir`, which must not exist yet. The image
 * is listed and every entry checked first (see {@link EntryChecker}); only then does
 * `unsquashfs` write, into a private staging directory next to `destDir`, whose result is
 * walked again before it is renamed into place.
 */
export async function extractBundle(
  file: string,
  destDir: string,
  limits?: Partial<BundleLimits>,
): Promise<ExtractResult> {
  return extractArchive(file, destDir, { limits, format: "squashfs" });
}

/** Like {@link extractBundle} for any supported format (detected from the file's bytes). */
export async function extractArchive(
  file: string,
  destDir: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const resolved = resolveLimits(options.limits);
  const size = await archiveSize(file);
  const format = options.format ?? (await detectFormat(file));
  const dest = resolve(destDir);
  await assertAbsent(dest);

  const listing = new EntryChecker(file, resolved, size);
  const entries: CheckedEntry[] = [];
  const collect = (e: CheckedEntry | null) => {
    if (e !== null) entries.push(e);
  };
  if (format === "squashfs") for (const raw of await listSquashfs(file)) collect(listing.add(raw));
  else if (format === "zip") await listZip(file, (raw) => collect(listing.add(raw)), resolved);
  else await listTar(file, format === "tar.gz", (raw) => collect(listing.add(raw)), resolved, size);

  const staging = await mkdtemp(join(dirname(dest), `.${basename(dest)}.staging-`));
  const root = join(staging, "root");
  try {
    if (format === "squashfs") {
      const result = await runTool("unsquashfs", ["-d", root, "-n", "-no-xattrs", "-st", file], 1024 * 1024);
      if (result.code !== 0) {
        throw rejection(
          "unreadable-archive",
          file,
          undefined,
          `could not be extracted (unsquashfs: ${result.stderr || `exit ${result.code}`}).`,
        );
      }
    } else {
      // The write pass checks every entry again with a fresh checker, so an archive that
      // changed since the listing pass is still held to the same rules.
      const writer = new EntryChecker(file, resolved, size);
      if (format === "zip") await extractZipInto(file, root, writer, resolved);
      else await extractTarInto(file, format === "tar.gz", root, writer, resolved, size);
    }
    const totalBytes = await verifyExtractedTree(file, root, entries, resolved, size);
    await rename(root, dest);
    await rmdir(staging);
    return { destDir: dest, format, entries, totalBytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function assertAbsent(dest: string): Promise<void> {
  try {
    await lstat(dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  throw new GreenticError("conflict", `Extraction target ${dest} already exists.`, {
    path: dest,
    hint: "Extract into a directory that does not exist yet; it is created atomically.",
  });
}

/**
 * Defence in depth after extraction: walks the written tree without following links and
 * checks it matches the checked listing exactly (paths, types, sizes), that symlinks stay
 * inside, that no file is hardlinked to anything outside the tree, and then normalises owner
 * and mode bits (no setuid/setgid/sticky, no group/other write).
 */
async function verifyExtractedTree(
  file: string,
  root: string,
  listed: readonly CheckedEntry[],
  limits: BundleLimits,
  archiveBytes: number,
): Promise<number> {
  const nodes = await walkTree(root);
  const expected = new Map(listed.map((e) => [e.path, e]));
  const checker = new EntryChecker(file, limits, archiveBytes);
  const linkCounts = new Map<number, number>();
  for (const node of nodes) if (node.type === "file") linkCounts.set(node.ino, (linkCounts.get(node.ino) ?? 0) + 1);
  for (const node of nodes) {
    const want = expected.get(node.path);
    if (want === undefined)
      throw rejection("listing-mismatch", file, node.path, "was written but is not in the archive's listing.");
    expected.delete(node.path);
    const wantType = want.type === "hardlink" ? "file" : want.type;
    if (node.type !== wantType) {
      if (node.type !== "file" && node.type !== "dir" && node.type !== "symlink") {
        throw rejection("special-file", file, node.path, `was extracted as a ${node.type} node.`);
      }
      throw rejection(
        "listing-mismatch",
        file,
        node.path,
        `was listed as a ${want.type} but extracted as a ${node.type}.`,
      );
    }
    if (node.type === "symlink") {
      const escape = symlinkEscape(node.path.split("/").length - 1, node.target ?? "");
      if (escape !== undefined)
        throw rejection("symlink-escape", file, node.path, `was extracted as a symlink that ${escape}.`);
    } else if (node.type === "file") {
      if (want.type === "file" && node.size !== want.size) {
        throw rejection(
          "size-mismatch",
          file,
          node.path,
          `was listed with ${want.size} bytes but extracted with ${node.size}.`,
        );
      }
      if (node.nlink !== linkCounts.get(node.ino)) {
        throw rejection("hardlink-escape", file, node.path, "is hardlinked to a file outside the extracted tree.");
      }
      checker.addBytes(node.size, node.path);
    }
  }
  const missing = [...expected.keys()];
  if (missing.length > 0)
    throw rejection("listing-mismatch", file, missing[0], "is in the archive's listing but was not extracted.");
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  for (const node of nodes) {
    const abs = join(root, node.path);
    if (uid !== undefined && gid !== undefined && uid === 0) await lchown(abs, uid, gid);
    if (node.type !== "symlink") await chmod(abs, (node.mode & 0o755) | (node.type === "dir" ? 0o700 : 0o600));
  }
  return checker.totalBytes;
}
