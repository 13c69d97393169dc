import { constants } from "node:fs";
import { mkdir, open, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { SymlinkRefusedError, fsyncDir, refuseSymlinksBelow, writeFileAtomic } from "@greentic/io-kit";

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
    await mkdir(dir, { recursive: true, mode });
  } catch (error) {
    throw ioError("creating directory", dir, error);
  }
}

/**
 * Atomically replaces `file` with `data` (the I/O kit's `writeFileAtomic`: temp file, fsync,
 * rename, fsync of the directory). A crash leaves either the old or the new content, never a mix.
 */
export async function writeAtomic(root: string, file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await ensureDir(root, dirname(file));
  await writeFileAtomic(file, data, { mode, root }).catch((error: unknown) => {
    throw writeError("writing", file, error);
  });
}

/** Creates `file` exclusively (fails with EEXIST if present), written and fsynced with its directory. */
export async function writeExclusive(
  root: string,
  file: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  await ensureDir(root, dirname(file));
  await writeFileAtomic(file, data, { mode, root, exclusive: true }).catch((error: unknown) => {
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
