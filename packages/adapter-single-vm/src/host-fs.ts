import { chmod, chown, lstat, mkdir, readFile, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { GreenticError, sha256Hex } from "@greentic/deploy-spec";
import {
  copyFileAtomic as ioKitCopyFileAtomic,
  fsyncDir,
  hashFile as ioKitHashFile,
  writeFileAtomic as ioKitWriteFileAtomic,
} from "@greentic/io-kit";
import { hostPath, type HostExecutor } from "./executor.js";

/** Hex SHA-256 of a file (the I/O kit's `hashFile`); `null` when it does not exist. */
export async function hashFile(file: string): Promise<string | null> {
  try {
    return (await ioKitHashFile(file)).sha256;
  } catch (error) {
    if (isMissing(error)) return null;
    throw ioError(`cannot read ${file}`, error);
  }
}

/** Hex SHA-256 of a text (deploy-spec's `sha256Hex`). */
export const sha256: (text: string) => string = sha256Hex;

export async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if (isMissing(error)) return null;
    throw ioError(`cannot read ${file}`, error);
  }
}

export interface Ownership {
  uid: number;
  gid: number;
}

/** Mode and owner of a path, or null when missing. */
export async function statPath(
  file: string,
): Promise<{ mode: number; uid: number; gid: number; isDir: boolean } | null> {
  try {
    const s = await lstat(file);
    return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, isDir: s.isDirectory() };
  } catch (error) {
    if (isMissing(error)) return null;
    throw ioError(`cannot inspect ${file}`, error);
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a file atomically under the executor's root (the I/O kit's `writeFileAtomic`: temp
 * file, fsync, mode and owner, rename, fsync of the directory; never through a symlink).
 * Missing parents are created 0755. Ownership is skipped in staging.
 */
export async function writeFileAtomic(
  executor: HostExecutor,
  target: string,
  content: string | Buffer,
  mode: number,
  owner?: Ownership,
): Promise<void> {
  const options = { mode, dirMode: 0o755, ...(owner && executor.mode === "execute" ? { owner } : {}) };
  await ioKitWriteFileAtomic(hostPath(executor, target), content, options).catch((error: unknown) => {
    throw ioError(`cannot write ${target}`, error);
  });
}

/** Copies a file atomically (the I/O kit's `copyFileAtomic`) and returns the hex SHA-256 of the copy. */
export async function copyFileAtomic(
  executor: HostExecutor,
  sourceHostPath: string,
  target: string,
  mode: number,
): Promise<string> {
  // The copy is hashed, not the source: what gets mounted is what was verified.
  const copied = await ioKitCopyFileAtomic(sourceHostPath, hostPath(executor, target), { mode, dirMode: 0o755 }).catch(
    (error: unknown) => {
      throw ioError(`cannot copy ${sourceHostPath} to ${target}`, error);
    },
  );
  return copied.sha256;
}

/** Creates a directory (and missing parents, root 0755), then sets its mode and owner. */
export async function ensureDir(
  executor: HostExecutor,
  target: string,
  mode: number,
  owner?: Ownership,
): Promise<void> {
  const dir = hostPath(executor, target);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, mode);
    if (owner && executor.mode === "execute") await chown(dir, owner.uid, owner.gid);
  } catch (error) {
    throw ioError(`cannot create directory ${target}`, error);
  }
}

export async function removePath(executor: HostExecutor, target: string): Promise<boolean> {
  const file = hostPath(executor, target);
  const existed = await exists(file);
  await rm(file, { recursive: true, force: true });
  if (existed) await fsyncDir(dirname(file)).catch(() => {});
  return existed;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ENOENT" || (error as NodeJS.ErrnoException)?.code === "ENOTDIR";
}

function ioError(message: string, cause: unknown): GreenticError {
  return new GreenticError("io", `${message}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}
