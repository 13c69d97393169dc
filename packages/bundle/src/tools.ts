import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { GreenticError } from "@greentic/deploy-spec";
import { hashFile } from "@greentic/io-kit";
import { type RawEntry, type RawEntryType, rejection } from "./entries.js";

interface ToolResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a squashfs-tools command without a shell; stdout is capped so a hostile image cannot flood memory. */
export function runTool(cmd: string, args: readonly string[], maxStdout = 256 * 1024 * 1024): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    // mksquashfs refuses SOURCE_DATE_EPOCH next to -mkfs-time/-all-time; the build already
    // turned it into explicit flags.
    const { SOURCE_DATE_EPOCH: _ignored, ...env } = process.env;
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...env, LC_ALL: "C", TZ: "UTC" } });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxStdout) {
        child.kill("SIGKILL");
        return;
      }
      out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (err.length < 64 * 1024) err += chunk.toString("utf8");
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      reject(
        new GreenticError("io", `Could not run ${cmd}: ${error.message}`, {
          hint: error.code === "ENOENT" ? "Install squashfs-tools (apt-get install squashfs-tools)." : undefined,
          cause: error,
        }),
      );
    });
    child.on("close", (code) => {
      if (outBytes > maxStdout) {
        reject(
          new GreenticError("validation", `${cmd} produced more than ${maxStdout} bytes of output.`, {
            hint: "The input is too large to handle safely.",
          }),
        );
        return;
      }
      resolve({ code, stdout: Buffer.concat(out), stderr: err.trim() });
    });
  });
}

/** Streaming `sha256:<hex>` of a file's bytes. */
export async function sha256File(file: string): Promise<string> {
  return `sha256:${(await hashFile(file)).sha256}`;
}

const TYPE_CHARS: Record<string, RawEntryType> = {
  "-": "file",
  d: "dir",
  l: "symlink",
  c: "char-device",
  b: "block-device",
  p: "fifo",
  s: "socket",
};

function parseMode(perms: string): number {
  let mode = 0;
  const bit = (i: number, ch: string, value: number) => (perms[i] === ch ? value : 0);
  mode |=
    bit(0, "r", 0o400) |
    bit(1, "w", 0o200) |
    bit(3, "r", 0o040) |
    bit(4, "w", 0o020) |
    bit(6, "r", 0o004) |
    bit(7, "w", 0o002);
  const exec = (i: number, x: number, special: number, lower: string, upper: string) => {
    const c = perms[i];
    if (c === "x") mode |= x;
    else if (c === lower) mode |= x | special;
    else if (c === upper) mode |= special;
  };
  exec(2, 0o100, 0o4000, "s", "S");
  exec(5, 0o010, 0o2000, "s", "S");
  exec(8, 0o001, 0o1000, "t", "T");
  return mode;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeName(file: string, latin1: string): string {
  try {
    return utf8.decode(Buffer.from(latin1, "latin1"));
  } catch {
    throw rejection("invalid-name", file, latin1, "is not valid UTF-8.");
  }
}

/**
 * Lists a squashfs image without mounting or extracting it (`unsquashfs -lln`). Names may hold
 * newlines, so each record is found by its header, which ends in a random prefix passed with
 * `-d`: a crafted name cannot forge a record because it cannot guess the prefix.
 */
export async function listSquashfs(file: string): Promise<RawEntry[]> {
  const prefix = `gt-${randomBytes(16).toString("hex")}`;
  const result = await runTool("unsquashfs", ["-lln", "-d", prefix, file]);
  if (result.code !== 0) {
    throw rejection(
      "unreadable-archive",
      file,
      undefined,
      `is not a readable squashfs image (unsquashfs: ${result.stderr || `exit ${result.code}`}).`,
    );
  }
  const text = result.stdout.toString("latin1");
  const header = new RegExp(
    `(?:^|\\n)([-dlcbps])([-rwxsStT]{9}) \\d+/\\d+ +(\\d+|\\d+, *\\d+) \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d ${prefix}(?=/|\\n)`,
    "g",
  );
  const heads = [...text.matchAll(header)];
  if (heads.length === 0) throw rejection("unreadable-archive", file, undefined, "lists no entries.");
  const entries: RawEntry[] = [];
  for (let i = 0; i < heads.length; i++) {
    const m = heads[i]!;
    const start = m.index + m[0].length;
    const end = i + 1 < heads.length ? heads[i + 1]!.index : text.endsWith("\n") ? text.length - 1 : text.length;
    let rest = text.slice(start, end);
    rest = rest.startsWith("/") ? rest.slice(1) : rest;
    const type = TYPE_CHARS[m[1]!] ?? "other";
    const sizeField = m[3]!;
    const size = sizeField.includes(",") ? 0 : Number(sizeField);
    const mode = parseMode(m[2]!);
    if (type === "symlink") {
      // The size column is the target's length in bytes, which splits "name -> target" even
      // when the name itself contains " -> ".
      const nameEnd = rest.length - size - 4;
      if (nameEnd < 0 || rest.slice(nameEnd, nameEnd + 4) !== " -> ") {
        throw rejection("unreadable-archive", file, undefined, "has a symlink record the lister could not parse.");
      }
      entries.push({
        path: decodeName(file, rest.slice(0, nameEnd)),
        type,
        size: 0,
        mode,
        linkTarget: decodeName(file, rest.slice(nameEnd + 4)),
      });
    } else {
      entries.push({
        path: i === 0 && rest === "" ? "." : decodeName(file, rest),
        type,
        size: type === "file" ? size : 0,
        mode,
      });
    }
  }
  return entries;
}

/** Reads one regular file out of a squashfs image (`unsquashfs -cat`), at most `maxBytes`. */
export async function catSquashfs(file: string, path: string, maxBytes: number): Promise<Buffer> {
  const result = await runTool("unsquashfs", ["-cat", "-no-wildcards", file, path], maxBytes);
  if (result.code !== 0) {
    throw rejection(
      "unreadable-archive",
      file,
      path,
      `could not be read (unsquashfs: ${result.stderr || `exit ${result.code}`}).`,
    );
  }
  return result.stdout;
}
