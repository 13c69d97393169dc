import { readFile } from "node:fs/promises";
import { GreenticError, issuesError, parseDocument, prettyJson } from "@greentic/deploy-spec/documents";
import type { z } from "zod";
import { SymlinkRefusedError, errnoHint, refuseSymlink as ioKitRefuseSymlink, writeFileAtomic } from "@greentic/io-kit";

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
 * Reads a JSON document a handler wrote and checks it against `schema`; `undefined` when the
 * file does not exist. A document that does not match is `integrity` naming the file, with the
 * issues as data (stable kebab-case codes, deploy-spec's one issues-to-error path).
 */
export async function readJsonDocument<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S> | undefined> {
  const data = await readJsonFile(file);
  if (data === undefined) return undefined;
  const parsed = parseDocument(schema, data, { source: file });
  if (parsed.ok) return parsed.value;
  throw issuesError(parsed.issues, {
    kind: "integrity",
    source: file,
    hint: "the file is written by an env-pack handler: restore it, or remove it and run the verb again",
  });
}

/**
 * Writes `data` as pretty JSON atomically (the I/O kit's `writeFileAtomic`: temp file, fsync,
 * rename, fsync of the directory) with `mode`. Refuses to replace a symlink, so a planted link
 * cannot redirect the write.
 */
export async function writeJsonFile(file: string, data: unknown, mode = 0o644): Promise<void> {
  await writeFileAtomic(file, prettyJson(data), { mode }).catch((error: unknown) => {
    throw symlinkError(error) ?? writeIoError(file, error);
  });
}

/** An `io` error naming `file`, with the hint for its error code (full disk, read-only, permissions). */
export function writeIoError(file: string, error: unknown): GreenticError {
  if (error instanceof GreenticError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new GreenticError("io", `cannot write ${file}: ${(error as Error).message}`, {
    path: file,
    hint: errnoHint(code),
    cause: error,
    ...(code === undefined ? {} : { details: { code } }),
  });
}

/** Throws `integrity` when `file` exists and is a symlink. */
export async function refuseSymlink(file: string): Promise<void> {
  await ioKitRefuseSymlink(file).catch((error: unknown) => {
    throw symlinkError(error) ?? error;
  });
}

function symlinkError(error: unknown): GreenticError | undefined {
  if (!(error instanceof SymlinkRefusedError)) return undefined;
  return new GreenticError("integrity", `${error.path} is a symbolic link; refusing to follow it`, {
    path: error.path,
    hint: "replace the link with a regular file (or remove it) and retry",
  });
}
