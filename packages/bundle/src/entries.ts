import { GreenticError } from "@greentic/deploy-spec";
import type { BundleLimits } from "./limits.js";

/** What an archive says an entry is, before any checking. */
export type RawEntryType =
  | "file"
  | "dir"
  | "symlink"
  | "hardlink"
  | "char-device"
  | "block-device"
  | "fifo"
  | "socket"
  | "other";

/** One entry as listed by an archive reader, before it is checked. */
export interface RawEntry {
  /** The path exactly as the archive stores it. */
  path: string;
  type: RawEntryType;
  /** Declared uncompressed size in bytes (0 for anything but files). */
  size: number;
  /** Permission bits (and possibly setuid/setgid/sticky). */
  mode: number;
  /** Symlink target, or hardlink target path inside the archive. */
  linkTarget?: string | undefined;
}

/** An entry that passed every check: a clean relative path and one of the safe types. */
export interface CheckedEntry {
  /** Normalised relative path: `/`-separated, no `.`/`..`/empty components. */
  path: string;
  type: "file" | "dir" | "symlink" | "hardlink";
  size: number;
  mode: number;
  /** Symlink target as stored (relative), or the normalised archive path of a hardlink's target. */
  target?: string;
}

/** Stable codes carried in `details.code` of the GreenticError each rejection throws. */
export const REJECTION_CODES = [
  "absolute-path",
  "parent-traversal",
  "invalid-name",
  "path-too-long",
  "symlink-escape",
  "symlink-traversal",
  "hardlink-escape",
  "hardlink-dangling",
  "special-file",
  "duplicate-path",
  "path-conflict",
  "too-large",
  "too-many-entries",
  "ratio-exceeded",
  "size-mismatch",
  "listing-mismatch",
  "unreadable-archive",
] as const;

/** One of {@link REJECTION_CODES}. */
export type RejectionCode = (typeof REJECTION_CODES)[number];

const HINTS: Record<RejectionCode, string> = {
  "absolute-path": "Bundles hold relative paths only; rebuild the archive from inside its root directory.",
  "parent-traversal": "Remove '..' components; an archive entry must stay inside the bundle.",
  "invalid-name": "Rename the entry: names must be UTF-8 without control characters or backslashes.",
  "path-too-long": "Shorten the path or raise limits.maxPathBytes.",
  "symlink-escape": "Make the symlink relative and keep its target inside the bundle ('..' only at the start).",
  "symlink-traversal": "Do not place entries underneath a symlink; store the real directory instead.",
  "hardlink-escape": "Hardlinks must name another file inside the archive by a relative path.",
  "hardlink-dangling": "A hardlink must point to a regular file stored earlier in the same archive.",
  "special-file": "Remove device, FIFO and socket nodes; bundles hold files, directories and symlinks only.",
  "duplicate-path": "Each path may appear once; rebuild the archive without duplicate entries.",
  "path-conflict": "An entry sits underneath a file; rebuild the archive with a consistent tree.",
  "too-large": "The content exceeds limits.maxTotalBytes; shrink the bundle or raise the limit.",
  "too-many-entries": "The archive exceeds limits.maxEntries; shrink the bundle or raise the limit.",
  "ratio-exceeded": "The compression ratio looks like an archive bomb; raise limits.maxRatio if this is intended.",
  "size-mismatch": "The archive declares one size and contains another; it is corrupt or crafted. Rebuild it.",
  "listing-mismatch": "The extracted tree differs from the archive's listing; the file changed or is crafted.",
  "unreadable-archive": "Check that the file is a complete, uncorrupted archive of the expected format.",
};

/** Builds the GreenticError for one rejected entry; `details.code` is the stable code. */
export function rejection(
  code: RejectionCode,
  archive: string,
  entry: string | undefined,
  what: string,
): GreenticError {
  const where = entry === undefined ? `Archive ${archive}` : `Archive ${archive}: entry ${JSON.stringify(entry)}`;
  return new GreenticError(code === "unreadable-archive" ? "io" : "validation", `${where} ${what}`, {
    hint: HINTS[code],
    path: entry ?? archive,
    details: { code, archive, ...(entry === undefined ? {} : { entry }) },
  });
}

// Control characters (newline included) make names ambiguous in listings and logs.
const CONTROL = /[\u0000-\u001f\u007f]/;

type Kind = "file" | "dir" | "implicit-dir" | "symlink" | "hardlink";

/**
 * Checks archive entries one at a time, keeping what it needs to catch duplicates, writes
 * through links and size caps. The same checker instance runs over the listing before
 * extraction and, entry by entry, during extraction.
 */
export class EntryChecker {
  readonly #archive: string;
  readonly #limits: BundleLimits;
  readonly #archiveBytes: number;
  readonly #kinds = new Map<string, Kind>();
  #count = 0;
  #totalBytes = 0;

  constructor(archive: string, limits: BundleLimits, archiveBytes: number) {
    this.#archive = archive;
    this.#limits = limits;
    this.#archiveBytes = archiveBytes;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  get count(): number {
    return this.#count;
  }

  /** Checks one entry; returns it normalised, or `null` for the archive's root directory. */
  add(raw: RawEntry): CheckedEntry | null {
    this.#count += 1;
    if (this.#count > this.#limits.maxEntries) {
      throw this.#reject(
        "too-many-entries",
        raw.path,
        `is entry number ${this.#count}, over the limit of ${this.#limits.maxEntries} entries.`,
      );
    }
    const parts = this.#normalise(raw.path, raw.path);
    if (parts.length === 0) {
      if (raw.type === "dir") return null;
      throw this.#reject("invalid-name", raw.path, `names the archive root but is a ${raw.type}, not a directory.`);
    }
    const path = parts.join("/");
    if (raw.type !== "file" && raw.type !== "dir" && raw.type !== "symlink" && raw.type !== "hardlink") {
      throw this.#reject(
        "special-file",
        raw.path,
        `is a ${raw.type} node; only files, directories and links are allowed.`,
      );
    }
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      const kind = this.#kinds.get(prefix);
      if (kind === undefined) this.#kinds.set(prefix, "implicit-dir");
      else if (kind === "symlink")
        throw this.#reject("symlink-traversal", raw.path, `lies underneath the symlink ${JSON.stringify(prefix)}.`);
      else if (kind === "file" || kind === "hardlink")
        throw this.#reject("path-conflict", raw.path, `lies underneath the file ${JSON.stringify(prefix)}.`);
    }
    const existing = this.#kinds.get(path);
    if (existing !== undefined && !(existing === "implicit-dir" && raw.type === "dir")) {
      throw this.#reject("duplicate-path", raw.path, `appears more than once (as ${path}).`);
    }
    const entry: CheckedEntry = { path, type: raw.type, size: 0, mode: raw.mode & 0o7777 };
    if (raw.type === "symlink") {
      entry.target = this.#checkSymlink(raw, parts);
    } else if (raw.type === "hardlink") {
      entry.target = this.#checkHardlink(raw);
    } else if (raw.type === "file") {
      if (!Number.isSafeInteger(raw.size) || raw.size < 0) {
        throw this.#reject("size-mismatch", raw.path, `declares an invalid size ${String(raw.size)}.`);
      }
      entry.size = raw.size;
      this.addBytes(raw.size, raw.path);
    }
    this.#kinds.set(path, raw.type);
    return entry;
  }

  /** Counts content bytes against the size and ratio caps (also used for bytes really written). */
  addBytes(bytes: number, entryPath: string | undefined): void {
    this.#totalBytes += bytes;
    if (this.#totalBytes > this.#limits.maxTotalBytes) {
      throw this.#reject(
        "too-large",
        entryPath,
        `brings the content to ${this.#totalBytes} bytes, over the limit of ${this.#limits.maxTotalBytes} bytes.`,
      );
    }
    this.checkRatio(this.#totalBytes, entryPath);
  }

  /** Rejects when `bytes` of content came out of an archive of `archiveBytes` bytes at too high a ratio. */
  checkRatio(bytes: number, entryPath: string | undefined): void {
    if (bytes <= this.#limits.ratioFloorBytes || this.#archiveBytes <= 0) return;
    const ratio = bytes / this.#archiveBytes;
    if (ratio > this.#limits.maxRatio) {
      throw this.#reject(
        "ratio-exceeded",
        entryPath,
        `brings the content to ${bytes} bytes from a ${this.#archiveBytes}-byte archive (ratio ${ratio.toFixed(1)}, limit ${this.#limits.maxRatio}).`,
      );
    }
  }

  #normalise(raw: string, entry: string): string[] {
    if (raw.length === 0) throw this.#reject("invalid-name", entry, "has an empty name.");
    if (CONTROL.test(raw))
      throw this.#reject("invalid-name", entry, "contains a control character (such as a newline) in its name.");
    if (raw.includes("\\")) throw this.#reject("invalid-name", entry, "contains a backslash in its name.");
    if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw))
      throw this.#reject("absolute-path", entry, "is an absolute path.");
    const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes(".."))
      throw this.#reject("parent-traversal", entry, "contains a '..' component that climbs out of the bundle.");
    if (Buffer.byteLength(parts.join("/")) > this.#limits.maxPathBytes) {
      throw this.#reject("path-too-long", entry, `is longer than ${this.#limits.maxPathBytes} bytes.`);
    }
    return parts;
  }

  #checkSymlink(raw: RawEntry, parts: string[]): string {
    const target = raw.linkTarget ?? "";
    if (target.length === 0) throw this.#reject("symlink-escape", raw.path, "is a symlink with an empty target.");
    if (CONTROL.test(target))
      throw this.#reject("invalid-name", raw.path, "is a symlink whose target contains a control character.");
    if (Buffer.byteLength(target) > this.#limits.maxPathBytes) {
      throw this.#reject(
        "path-too-long",
        raw.path,
        `is a symlink whose target is longer than ${this.#limits.maxPathBytes} bytes.`,
      );
    }
    if (target.startsWith("/"))
      throw this.#reject("symlink-escape", raw.path, `is a symlink to the absolute path ${JSON.stringify(target)}.`);
    const escape = symlinkEscape(parts.length - 1, target);
    if (escape !== undefined)
      throw this.#reject("symlink-escape", raw.path, `is a symlink to ${JSON.stringify(target)}, which ${escape}.`);
    return target;
  }

  #checkHardlink(raw: RawEntry): string {
    const target = raw.linkTarget ?? "";
    if (
      target.length === 0 ||
      target.startsWith("/") ||
      /^[A-Za-z]:/.test(target) ||
      target.split("/").includes("..")
    ) {
      throw this.#reject(
        "hardlink-escape",
        raw.path,
        `is a hardlink to ${JSON.stringify(target)}, outside the bundle.`,
      );
    }
    const normalised = target
      .split("/")
      .filter((p) => p !== "" && p !== ".")
      .join("/");
    const kind = this.#kinds.get(normalised);
    if (kind !== "file" && kind !== "hardlink") {
      throw this.#reject(
        "hardlink-dangling",
        raw.path,
        `is a hardlink to ${JSON.stringify(target)}, which is not a file stored earlier in the archive.`,
      );
    }
    return normalised;
  }

  #reject(code: RejectionCode, entry: string | undefined, what: string): GreenticError {
    return rejection(code, this.#archive, entry, what);
  }
}

/**
 * Why a relative symlink target leaves the bundle, or `undefined` when it is safe. `depth` is
 * the number of directories between the bundle root and the link. `..` may only lead the
 * target: after a normal component, `x/..` would resolve through whatever `x` is (possibly
 * another symlink to the root), which a lexical check cannot see.
 */
export function symlinkEscape(depth: number, target: string): string | undefined {
  if (target.startsWith("/")) return "is absolute";
  let up = 0;
  let descended = false;
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (descended) return "uses '..' after a normal component";
      up += 1;
    } else {
      descended = true;
    }
  }
  if (up > depth) return "climbs above the bundle root";
  return undefined;
}
