import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

/** Size and hex SHA-256 of a file's content. */
export interface FileHash {
  size: number;
  sha256: string;
}

/**
 * Hashes a file with SHA-256: files up to 1 MiB in one read (a stream per small file costs more
 * than the hashing itself), larger ones streamed. Errors (ENOENT included) are Node's.
 */
export async function hashFile(file: string): Promise<FileHash> {
  const hash = createHash("sha256");
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    if (size <= 1024 * 1024) return { size, sha256: hash.update(await handle.readFile()).digest("hex") };
  } finally {
    await handle.close();
  }
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest("hex") };
}
