import { randomBytes } from "node:crypto";
import { lstat, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GreenticError, prettyJson } from "@greentic/deploy-spec";

/** Reads a JSON file; `undefined` when it does not exist. Throws `io` naming the file otherwise. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new GreenticError("io", `cannot read ${file}: ${(error as Error).message}`, { path: file, cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new GreenticError("integrity", `${file} is not valid JSON: ${(error as Error).message}`, {
      path: file,
      hint: "remove or repair the file; it is written by an env-pack handler",
      cause: error,
    });
  }
}

/**
 * Writes `data` as pretty JSON atomically (temp file, fsync, rename, fsync directory) with
 * `mode`. Refuses to replace a symlink, so a planted link cannot redirect the write.
 */
export async function writeJsonFile(file: string, data: unknown, mode = 0o644): Promise<void> {
  await refuseSymlink(file);
  const temp = join(dirname(file), `.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(prettyJson(data));
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const dir = await open(dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Throws `integrity` when `file` exists and is a symlink. */
export async function refuseSymlink(file: string): Promise<void> {
  const stat = await lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (stat?.isSymbolicLink() === true) {
    throw new GreenticError("integrity", `${file} is a symbolic link; refusing to follow it`, {
      path: file,
      hint: "replace the link with a regular file (or remove it) and retry",
    });
  }
}
