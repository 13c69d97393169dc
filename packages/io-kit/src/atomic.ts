import { randomBytes } from "node:crypto";
import { constants, lstatSync } from "node:fs";
import { chmod, chown, copyFile, link, lstat, mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { hashFile, type FileHash } from "./hash.js";

/** Thrown when a write would go to or through a symbolic link. `code` is `ESYMLINK`. */
export class SymlinkRefusedError extends Error {
  override readonly name = "SymlinkRefusedError";
  readonly code = "ESYMLINK";
  /** The symbolic link found. */
  readonly path: string;
  /** The file that was to be written. */
  readonly target: string;

  constructor(link: string, target: string) {
    super(
      link === target
        ? `${target} is a symbolic link; refusing to write through it`
        : `refusing to write ${target}: ${link} is a symbolic link`,
    );
    this.path = link;
    this.target = target;
  }
}

/** Options of {@link writeFileAtomic} and {@link copyFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the file, applied exactly (the umask does not narrow it). Default 0o600. */
  mode?: number;
  /**
   * Also refuse a symbolic link in any directory between `root` and the file (the store's
   * rule: a link planted inside it could redirect a write anywhere). Without it only the file
   * itself is checked.
   */
  root?: string;
  /** Owner given to the file before it is renamed into place. */
  owner?: { uid: number; gid: number };
  /** Create missing parent directories with this mode (`mkdir -p`). Default: they must exist. */
  dirMode?: number;
  /** Fail with EEXIST instead of replacing an existing file (`write` only). */
  exclusive?: boolean;
}

/** fsyncs a directory, so that a rename or unlink in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Throws {@link SymlinkRefusedError} when `file` exists and is a symbolic link. */
export async function refuseSymlink(file: string, target = file): Promise<void> {
  let stat;
  try {
    stat = await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (stat.isSymbolicLink()) throw new SymlinkRefusedError(file, target);
}

/**
 * Throws {@link SymlinkRefusedError} when `target`, or any directory between `root` and it, is a
 * symbolic link. `root` itself may be one (it is the caller's choice); a target outside `root`
 * is not checked.
 */
export async function refuseSymlinksBelow(root: string, target: string): Promise<void> {
  const rel = relative(root, target);
  if (rel === "" || rel.startsWith("..")) return;
  // Synchronous lstat: a few microseconds each on a local file system, where a promise per
  // component costs a thread-pool round trip; this walk runs several times per store commit.
  let current = root;
  for (const part of rel.split(sep)) {
    current = join(current, part);
    const stat = lstatSync(current, { throwIfNoEntry: false });
    if (stat === undefined) return;
    if (stat.isSymbolicLink()) throw new SymlinkRefusedError(current, target);
  }
}

async function prepare(file: string, options: AtomicWriteOptions): Promise<string> {
  const dir = dirname(file);
  // Checked before mkdir -p, which would follow a symlinked ancestor.
  if (options.root !== undefined) await refuseSymlinksBelow(options.root, file);
  else await refuseSymlink(file);
  if (options.dirMode !== undefined) await mkdir(dir, { recursive: true, mode: options.dirMode });
  // A random name in the same directory: concurrent writers never share a temp file, and the
  // rename stays on one filesystem.
  return join(dir, `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
}

/** Mode, owner and fsync of the temp file, then rename (or link, when exclusive) and fsync of the directory. */
async function commit(temp: string, file: string, options: AtomicWriteOptions): Promise<void> {
  await chmod(temp, options.mode ?? 0o600);
  if (options.owner !== undefined) await chown(temp, options.owner.uid, options.owner.gid);
  if (options.exclusive === true) {
    // link() fails with EEXIST when the target exists: a file that appeared meanwhile is kept.
    await link(temp, file);
    await unlink(temp);
  } else {
    await rename(temp, file);
  }
  await fsyncDir(dirname(file));
}

/**
 * Replaces `file` with `data` so that a crash leaves the old content or the new, never a mix:
 * a temp file with a random name beside it, written and fsynced, given its mode (and owner),
 * renamed over the target, then the directory fsynced. Refuses to write to or through a
 * symbolic link ({@link SymlinkRefusedError}); other errors are Node's, with nothing left behind.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = await prepare(file, options);
  try {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const handle = await open(temp, flags, options.mode ?? 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await commit(temp, file, options);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/**
 * Copies `source` to `target` as {@link writeFileAtomic} writes, and returns the size and
 * SHA-256 of the copy: what lands at `target` is what was hashed, whatever happens to the
 * source meanwhile.
 */
export async function copyFileAtomic(
  source: string,
  target: string,
  options: Omit<AtomicWriteOptions, "exclusive"> = {},
): Promise<FileHash> {
  const temp = await prepare(target, options);
  try {
    await copyFile(source, temp, constants.COPYFILE_EXCL);
    const handle = await open(temp, constants.O_RDWR | constants.O_NOFOLLOW);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const hash = await hashFile(temp);
    await commit(temp, target, options);
    return hash;
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
