import { createWriteStream, mkdirSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";
import { type EntryChecker, type RawEntry, type RawEntryType, rejection } from "./entries.js";
import type { BundleLimits } from "./limits.js";

const S_IFMT = 0o170000;
const UNIX_TYPES: Record<number, RawEntryType> = {
  0o100000: "file",
  0o040000: "dir",
  0o120000: "symlink",
  0o020000: "char-device",
  0o060000: "block-device",
  0o010000: "fifo",
  0o140000: "socket",
};

async function openZip(file: string): Promise<yauzl.ZipFile> {
  try {
    // decodeStrings and validateEntrySizes off: yauzl would reject unsafe names and lying sizes
    // with plain errors; we decode names and count bytes ourselves so each problem gets its
    // own GreenticError code.
    return await yauzl.openPromise(file, {
      lazyEntries: true,
      decodeStrings: false,
      validateEntrySizes: false,
      autoClose: false,
    });
  } catch (error) {
    throw rejection(
      "unreadable-archive",
      file,
      undefined,
      `is not a readable zip archive (${(error as Error).message}).`,
    );
  }
}

function describe(file: string, entry: yauzl.Entry): RawEntry {
  const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
  const unix = entry.versionMadeBy >> 8 === 3;
  const attrs = entry.externalFileAttributes >>> 16;
  let type: RawEntryType = name.endsWith("/") ? "dir" : "file";
  if (unix && (attrs & S_IFMT) !== 0) type = UNIX_TYPES[attrs & S_IFMT] ?? "other";
  if (entry.isEncrypted()) throw rejection("unreadable-archive", file, name, "is encrypted, which is not supported.");
  return {
    path: name,
    type,
    size: type === "file" ? entry.uncompressedSize : 0,
    mode: unix ? attrs & 0o7777 : type === "dir" ? 0o755 : 0o644,
  };
}

async function readSmall(
  zip: yauzl.ZipFile,
  file: string,
  entry: yauzl.Entry,
  name: string,
  max: number,
): Promise<string> {
  if (entry.uncompressedSize > max)
    throw rejection("path-too-long", file, name, `is a symlink whose target is longer than ${max} bytes.`);
  const chunks: Buffer[] = [];
  for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function walkZip(
  file: string,
  limits: BundleLimits,
  onEntry: (zip: yauzl.ZipFile, entry: yauzl.Entry, raw: RawEntry) => Promise<void>,
): Promise<void> {
  const zip = await openZip(file);
  try {
    for await (const entry of zip.eachEntry()) {
      const raw = describe(file, entry);
      if (raw.type === "symlink") raw.linkTarget = await readSmall(zip, file, entry, raw.path, limits.maxPathBytes);
      await onEntry(zip, entry, raw);
    }
  } catch (error) {
    if ((error as Error).name === "GreenticError") throw error;
    throw rejection(
      "unreadable-archive",
      file,
      undefined,
      `is not a readable zip archive (${(error as Error).message}).`,
    );
  } finally {
    zip.close();
  }
}

/** Lists a zip archive's entries (reading only symlink targets) without writing anything. */
export async function listZip(file: string, onEntry: (raw: RawEntry) => void, limits: BundleLimits): Promise<void> {
  await walkZip(file, limits, async (_zip, _entry, raw) => onEntry(raw));
}

/** Writes a zip archive into `root` (created here), checking each entry with `checker` first. */
export async function extractZipInto(
  file: string,
  root: string,
  checker: EntryChecker,
  limits: BundleLimits,
): Promise<void> {
  mkdirSync(root, { mode: 0o700 });
  await walkZip(file, limits, async (zip, entry, raw) => {
    const checked = checker.add(raw);
    if (checked === null) return;
    const abs = join(root, checked.path);
    mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
    if (checked.type === "dir") {
      mkdirSync(abs, { recursive: true, mode: 0o755 });
    } else if (checked.type === "symlink") {
      symlinkSync(checked.target!, abs);
    } else {
      let written = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _enc, done) {
          written += chunk.length;
          if (written > checked.size)
            return done(
              rejection("size-mismatch", file, raw.path, `inflates past its declared ${checked.size} bytes.`),
            );
          done(null, chunk);
        },
        flush(done) {
          if (written !== checked.size)
            return done(
              rejection(
                "size-mismatch",
                file,
                raw.path,
                `inflates to ${written} bytes, not its declared ${checked.size}.`,
              ),
            );
          done();
        },
      });
      // "wx" is O_CREAT|O_EXCL: it refuses any existing path, a symlink included.
      await pipeline(
        await zip.openReadStreamPromise(entry),
        limit,
        createWriteStream(abs, { flags: "wx", mode: 0o600 }),
      );
    }
  });
}
