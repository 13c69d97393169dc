import { constants } from "node:fs";
import { lstat, mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, relative, sep } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";

/** Error code of a Node system error, if any. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

export function ioError(
  action: string,
  path: string,
  cause: unknown,
  hint = "check the path's permissions and free space",
): GreenticError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new GreenticError("io", `${action} ${path} failed: ${detail}`, { hint, path, cause });
}

/**
 * Refuses when `target` or any of its ancestors below `root` is a symbolic link. The store never
 * writes through a link: a link planted in the store could redirect a write anywhere.
 */
export async function assertNoSymlinks(root: string, target: string): Promise<void> {
  const rel = relative(root, target);
  if (rel.startsWith("..") || rel === "") return;
  let current = root;
  for (const part of rel.split(sep)) {
    current = join(current, part);
    let stat;
    try {
      stat = await lstat(current);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return;
      throw ioError("inspecting", current, error);
    }
    if (stat.isSymbolicLink()) {
      throw new GreenticError("io", `refusing to write ${target}: ${current} is a symbolic link`, {
        path: current,
        hint: "replace the link with a real file or directory inside the store; the store never writes through links",
      });
    }
  }
}

/** fsyncs a directory so that a rename or unlink in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `mkdir -p` below `root` (mode 0700 by default), refusing symlinked ancestors. */
export async function ensureDir(root: string, dir: string, mode = 0o700): Promise<void> {
  await assertNoSymlinks(root, dir);
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (error) {
    throw ioError("creating directory", dir, error);
  }
}

async function writeAndSync(handle: FileHandle, data: string | Uint8Array): Promise<void> {
  await handle.writeFile(data);
  await handle.sync();
}

/**
 * Atomically replaces `file` with `data`: temp file in the same directory, fsync, rename,
 * fsync the directory. A crash leaves either the old or the new content, never a mix.
 */
export async function writeAtomic(root: string, file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  await ensureDir(root, dir);
  await assertNoSymlinks(root, file);
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await writeAndSync(handle, data);
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    await fsyncDir(dir);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw ioError("writing", file, error);
  }
}

/** Creates `file` exclusively (fails with EEXIST if present), writes and fsyncs it and its directory. */
export async function writeExclusive(
  root: string,
  file: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  await ensureDir(root, dirname(file));
  const handle = await open(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    await writeAndSync(handle, data);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(file).catch(() => {});
    throw error;
  }
  await handle.close();
  await fsyncDir(dirname(file));
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

/** Reads a regular file without following a final symlink; `undefined` when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") {
      throw new GreenticError("integrity", `${file} is a symbolic link; the store only reads regular files`, {
        path: file,
        hint: "replace the link with the real file (or restore a backup)",
      });
    }
    throw ioError("reading", file, error);
  }
  try {
    return await handle.readFile();
  } catch (error) {
    throw ioError("reading", file, error);
  } finally {
    await handle.close();
  }
}
