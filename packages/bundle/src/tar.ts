import { closeSync, linkSync, mkdirSync, openSync, symlinkSync, writeSync, constants, createReadStream } from "node:fs";
import { dirname, join } from "node:path";
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { type EntryChecker, type RawEntry, type RawEntryType, rejection } from "./entries.js";
import type { BundleLimits } from "./limits.js";

const TYPES: Record<string, RawEntryType> = {
  File: "file",
  OldFile: "file",
  ContiguousFile: "file",
  Directory: "dir",
  GNUDumpDir: "dir",
  SymbolicLink: "symlink",
  Link: "hardlink",
  CharacterDevice: "char-device",
  BlockDevice: "block-device",
  FIFO: "fifo",
};

function toRaw(entry: ReadEntry): RawEntry {
  return {
    path: entry.path,
    type: TYPES[entry.type] ?? "other",
    size: entry.size,
    mode: entry.mode ?? 0o644,
    linkTarget: entry.linkpath,
  };
}

/**
 * Streams a tar (optionally gzip) file through node-tar's parser in strict mode, calling
 * `onEntry` for each entry. The decompressed stream is counted, so a gzip bomb stops early.
 * The first error thrown by `onEntry` (or by the parser) ends the read and is rethrown.
 */
async function readTar(
  file: string,
  gzip: boolean,
  limits: BundleLimits,
  archiveBytes: number,
  onEntry: (entry: ReadEntry) => void,
): Promise<void> {
  let failure: unknown;
  const parser = new Parser({ strict: true, maxDecompressionRatio: Number.MAX_SAFE_INTEGER });
  const fail = (error: unknown) => {
    failure ??= error;
  };
  parser.on("entry", (entry: ReadEntry) => {
    if (failure !== undefined) return entry.resume();
    try {
      onEntry(entry);
    } catch (error) {
      fail(error);
      entry.resume();
    }
  });
  const maxStream = limits.maxTotalBytes + limits.maxEntries * 2048 + 1024 * 1024;
  let streamed = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      streamed += chunk.length;
      if (failure !== undefined) return done(failure as Error);
      if (streamed > maxStream)
        return done(rejection("too-large", file, undefined, `expands to more than ${maxStream} bytes of tar data.`));
      if (gzip && streamed > limits.ratioFloorBytes && streamed / archiveBytes > limits.maxRatio) {
        return done(
          rejection(
            "ratio-exceeded",
            file,
            undefined,
            `decompresses at a ratio above ${limits.maxRatio} (${streamed} bytes from ${archiveBytes}).`,
          ),
        );
      }
      done(null, chunk);
    },
  });
  const parsed = new Promise<void>((resolveDone, rejectDone) => {
    parser.on("end", () => resolveDone());
    parser.on("error", (error: Error) => rejectDone(error));
  });
  parsed.catch(() => undefined);
  // node-tar's Parser is not a Node Writable; this sink forwards to it with backpressure.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (parser.write(chunk)) done();
      else parser.once("drain", () => done());
    },
    final(done) {
      parser.end();
      parsed.then(() => done(), done);
    },
  });
  const source = createReadStream(file);
  try {
    if (gzip) await pipeline(source, createGunzip(), counter, sink);
    else await pipeline(source, counter, sink);
    await parsed;
  } catch (error) {
    fail(error);
  }
  if (failure === undefined) return;
  const error = failure as Error & { code?: string };
  if (error.name === "GreenticError") throw error;
  throw rejection("unreadable-archive", file, undefined, `is not a readable tar archive (${error.message}).`);
}

/** Lists a tar/tar.gz archive's entries without writing anything. */
export async function listTar(
  file: string,
  gzip: boolean,
  onEntry: (raw: RawEntry) => void,
  limits: BundleLimits,
  archiveBytes: number,
): Promise<void> {
  await readTar(file, gzip, limits, archiveBytes, (entry) => {
    onEntry(toRaw(entry));
    entry.resume();
  });
}

/**
 * Writes a tar/tar.gz archive into `root` (created here), checking each entry with `checker`
 * as it arrives. Files are created exclusively and never through a symlink (O_NOFOLLOW), so
 * nothing already on disk is overwritten.
 */
export async function extractTarInto(
  file: string,
  gzip: boolean,
  root: string,
  checker: EntryChecker,
  limits: BundleLimits,
  archiveBytes: number,
): Promise<void> {
  mkdirSync(root, { mode: 0o700 });
  let writeError: unknown;
  await readTar(file, gzip, limits, archiveBytes, (entry) => {
    const checked = checker.add(toRaw(entry));
    if (checked === null) return entry.resume();
    const abs = join(root, checked.path);
    mkdirSync(dirname(abs), { recursive: true, mode: 0o755 });
    if (checked.type === "dir") {
      mkdirSync(abs, { recursive: true, mode: 0o755 });
      entry.resume();
    } else if (checked.type === "symlink") {
      symlinkSync(checked.target!, abs);
      entry.resume();
    } else if (checked.type === "hardlink") {
      linkSync(join(root, checked.target!), abs);
      entry.resume();
    } else {
      const fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      // node-tar hands over exactly the declared size; the post-extraction walk re-checks it.
      entry.on("data", (chunk: Buffer) => {
        try {
          if (writeError === undefined) writeSync(fd, chunk);
        } catch (error) {
          writeError = error;
        }
      });
      entry.on("end", () => closeSync(fd));
    }
  });
  if (writeError !== undefined) throw writeError;
}
