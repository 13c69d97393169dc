import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, chown, copyFile, lstat, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { hostPath, type HostExecutor } from "./executor.js";

/** Hex SHA-256 of a file, streamed; `null` when it does not exist. */
export async function hashFile(file: string): Promise<string | null> {
  try {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest("hex");
  } catch (error) {
    if (isMissing(error)) return null;
    throw ioError(`cannot read ${file}`, error);
  }
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

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
 * Writes a file atomically under the executor's root: temp file in the same directory, fsync,
 * mode and owner, rename over the target, fsync the directory. Ownership is skipped in staging.
 */
export async function writeFileAtomic(
  executor: HostExecutor,
  target: string,
  content: string | Buffer,
  mode: number,
  owner?: Ownership,
): Promise<void> {
  const file = hostPath(executor, target);
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    const handle = await open(tmp, "wx", mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, mode);
    if (owner && executor.mode === "execute") await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, file);
    await fsyncDir(dir);
  } catch (error) {
    await rm(tmp, { force: true });
    throw ioError(`cannot write ${target}`, error);
  }
}

/** Copies a file atomically (temp copy + fsync + rename) and returns the hex SHA-256 of the copy. */
export async function copyFileAtomic(
  executor: HostExecutor,
  sourceHostPath: string,
  target: string,
  mode: number,
): Promise<string> {
  const file = hostPath(executor, target);
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    await copyFile(sourceHostPath, tmp);
    const handle = await open(tmp, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, mode);
    // Hash the copy, not the source: what gets mounted is what was verified.
    const digest = (await hashFile(tmp))!;
    await rename(tmp, file);
    await fsyncDir(dir);
    return digest;
  } catch (error) {
    await rm(tmp, { force: true });
    throw ioError(`cannot copy ${sourceHostPath} to ${target}`, error);
  }
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

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ENOENT" || (error as NodeJS.ErrnoException)?.code === "ENOTDIR";
}

function ioError(message: string, cause: unknown): GreenticError {
  return new GreenticError("io", `${message}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}
