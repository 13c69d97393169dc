import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, readdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rmdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { SymlinkRefusedError, errnoHint, fsyncDir, refuseSymlinksBelow, writeFileAtomic } from "@greentic/io-kit";

/** Error code of a Node system error, if any. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** An `io` error naming the path, with a hint chosen by the error code (full disk, read-only, permissions). */
export function ioError(action: string, path: string, cause: unknown, hint?: string): GreenticError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  const code = errnoCode(cause);
  return new GreenticError("io", `${action} ${path} failed: ${detail}`, {
    hint: hint ?? errnoHint(code),
    path,
    cause,
    details: code === undefined ? undefined : { code },
  });
}

/** The store's error for a write refused by the I/O kit's symlink rule, or `io` for anything else. */
function writeError(action: string, path: string, error: unknown): GreenticError {
  if (error instanceof SymlinkRefusedError) {
    return new GreenticError("io", `refusing to write ${error.target}: ${error.path} is a symbolic link`, {
      path: error.path,
      hint: "replace the link with a real file or directory inside the store; the store never writes through links",
    });
  }
  return error instanceof GreenticError ? error : ioError(action, path, error);
}

/**
 * Refuses when `target` or any of its ancestors below `root` is a symbolic link. The store never
 * writes through a link: a link planted in the store could redirect a write anywhere.
 */
export async function assertNoSymlinks(root: string, target: string): Promise<void> {
  await refuseSymlinksBelow(root, target).catch((error: unknown) => {
    throw writeError("inspecting", target, error);
  });
}

export { fsyncDir };

/** `mkdir -p` below `root` (mode 0700 by default), refusing symlinked ancestors. */
export async function ensureDir(root: string, dir: string, mode = 0o700): Promise<void> {
  await assertNoSymlinks(root, dir);
  try {
    // Synchronous, as the symlink walk before it: mostly one mkdir that finds the directory there.
    mkdirSync(dir, { recursive: true, mode });
  } catch (error) {
    throw ioError("creating directory", dir, errnoCode(error) === "ENOENT" ? await realMkdirError(dir, error) : error);
  }
}

/**
 * A recursive mkdir that cannot create a missing ancestor reports ENOENT, hiding why (a
 * read-only or full file system). Creating the first missing ancestor alone gives the real error.
 */
async function realMkdirError(dir: string, error: unknown): Promise<unknown> {
  let missing = dir;
  while (
    dirname(missing) !== missing &&
    !(await stat(dirname(missing)).then(
      () => true,
      () => false,
    ))
  )
    missing = dirname(missing);
  try {
    await mkdir(missing);
  } catch (real) {
    return errnoCode(real) === "EEXIST" ? error : real;
  }
  // It worked this time (a race with another writer): leave nothing behind, report the original.
  await rmdir(missing).catch(() => {});
  return error;
}

/**
 * Atomically replaces `file` with `data` (the I/O kit's `writeFileAtomic`: temp file, fsync,
 * rename, fsync of the directory). A crash leaves either the old or the new content, never a mix.
 */
export async function writeAtomic(root: string, file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await ensureDir(root, dirname(file));
  // ensureDir has just checked every ancestor: only the file itself is left to check.
  await writeFileAtomic(file, data, { mode, root: dirname(file) }).catch((error: unknown) => {
    throw writeError("writing", file, error);
  });
}

/**
 * Creates `file` exclusively (fails with EEXIST if present). With `durable` (the default) it is
 * the I/O kit's exclusive atomic write (fsync of the file and its directory); without, a plain
 * exclusive create, for copies the store can do without after a crash (backups).
 */
export async function writeExclusive(
  root: string,
  file: string,
  data: string | Uint8Array,
  mode = 0o600,
  durable = true,
): Promise<void> {
  await ensureDir(root, dirname(file));
  if (!durable) {
    await assertNoSymlinks(dirname(file), file);
    const handle = await open(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    ).catch((error: unknown) => {
      // EEXIST is the caller's to handle; anything else (EACCES, ENOSPC, EROFS) is `io` naming the file.
      throw errnoCode(error) === "EEXIST" ? error : ioError("writing", file, error);
    });
    try {
      await handle.writeFile(data);
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(file).catch(() => {});
      throw ioError("writing", file, error);
    }
    await handle.close();
    return;
  }
  await writeFileAtomic(file, data, { mode, root: dirname(file), exclusive: true }).catch((error: unknown) => {
    // EEXIST is the caller's to handle (a concurrent writer got there first).
    throw errnoCode(error) === "EEXIST" ? error : writeError("writing", file, error);
  });
}

/** Removes `file` durably; a missing file is fine. Returns whether something was removed. */
export async function removeDurable(root: string, file: string): Promise<boolean> {
  await assertNoSymlinks(root, dirname(file));
  try {
    await unlink(file);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return false;
    throw ioError("removing", file, error);
  }
  await fsyncDir(dirname(file));
  return true;
}

/**
 * Reads a regular file without following a final symlink; `undefined` when it does not exist.
 * The file is opened non-blocking and its type checked before any read, so a FIFO, a device or
 * a directory in its place is an `integrity` error naming it instead of a hang. Synchronous:
 * the store's files are small and local, and a trip through the thread pool per call costs
 * more than the read, most of all on a busy machine (a mutation reads a dozen of them).
 */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") {
      throw new GreenticError("integrity", `${file} is a symbolic link; the store only reads regular files`, {
        path: file,
        hint: "replace the link with the real file (or restore a backup)",
      });
    }
    if (code === "ENXIO") throw oddFile(file, "a socket or a FIFO with no writer");
    throw ioError("reading", file, error);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw oddFile(file, fileKind(st));
    return readFileSync(fd);
  } catch (error) {
    if (error instanceof GreenticError) throw error;
    throw ioError("reading", file, error);
  } finally {
    closeSync(fd);
  }
}

/** What a non-regular file is, for messages. */
export function fileKind(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSymbolicLink(): boolean;
}): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

export function oddFile(file: string, kind: string): GreenticError {
  return new GreenticError("integrity", `${file} is ${kind}, not a regular file; the store only reads regular files`, {
    path: file,
    hint: "move it aside and restore the file from a backup (`op env backups`, `op env restore`)",
  });
}

/**
 * Replaces `file` with `data` through a temp file and a rename, without fsync: for files the
 * store can rebuild after a crash from a durable commit record (materialized documents, the
 * audit head, the read cache, lock owner records). A crash leaves the old or the new content.
 */
export async function writeReplace(root: string, file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  await ensureDir(root, dir);
  // ensureDir has just checked every ancestor: only the file itself is left to check.
  await assertNoSymlinks(dir, file);
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw ioError("writing", file, error);
  }
}

/** Temp files (`.<name>.tmp-<pid>-<hex>`) left in `dir` by crashed writers. Removed by the next writer. */
export async function removeStaleTemps(dir: string): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    // The I/O kit's temp names carry no pid: those are removed once clearly abandoned.
    if (/^\..+\.[0-9a-f]{12}\.tmp$/u.test(name)) {
      const old = await stat(join(dir, name)).then(
        (st) => Date.now() - st.mtimeMs > 60_000,
        () => false,
      );
      if (old)
        await unlink(join(dir, name)).then(
          () => removed++,
          () => {},
        );
      continue;
    }
    const m = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/u.exec(name);
    if (!m) continue;
    // A live process with that pid may be writing it right now (another store instance in it).
    if (Number(m[1]) !== process.pid && processAlive(Number(m[1]))) continue;
    if (Number(m[1]) === process.pid) continue;
    await unlink(join(dir, name)).then(
      () => removed++,
      () => {},
    );
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}
