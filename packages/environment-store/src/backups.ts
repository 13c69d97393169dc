import { readdirSync } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { errnoCode, writeExclusive } from "./fs-safe.js";

export const BACKUPS_DIR = "backups";

const BACKUP_NAME = /^(.+)\.(\d{8}T\d{6}\.\d{9}Z)(?:\.(\d+))?\.bak$/u;

let lastStamp = "";
let lastSeq = 0;

/** `YYYYMMDDTHHMMSS.fffffffffZ` like the reference; strictly increasing within a process. */
export function backupTimestamp(date = new Date()): string {
  const iso = date.toISOString(); // 2026-07-01T12:34:56.789Z
  const base = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.${iso.slice(20, 23)}`;
  lastSeq = base === lastStamp ? lastSeq + 1 : 0;
  lastStamp = base;
  return `${base}${String(lastSeq).padStart(6, "0")}Z`;
}

/** ISO time of a backup stamp. */
function stampToIso(stamp: string): string {
  return `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(16, 19)}Z`;
}

export interface BackupFile {
  backup_id: string;
  file: string;
  stamp: string;
  seq: number;
  created_at: string;
}

/** Parses a backup id (`<file>.<stamp>[.N].bak`, relative to `backups/`); `undefined` if malformed or escaping. */
export function parseBackupId(id: string): BackupFile | undefined {
  if (id.startsWith("/") || id.includes("\\") || id.includes("\0")) return undefined;
  if (id.split("/").some((part) => part === "" || part === "." || part === "..")) return undefined;
  const m = BACKUP_NAME.exec(id);
  if (!m) return undefined;
  return { backup_id: id, file: m[1]!, stamp: m[2]!, seq: Number(m[3] ?? 0), created_at: stampToIso(m[2]!) };
}

/** Copies `content` (the current version of `rel`) to a new backup; returns its id. */
export async function writeBackup(root: string, envDir: string, rel: string, content: Uint8Array): Promise<string> {
  const stamp = backupTimestamp();
  for (let n = 0; n < 1024; n++) {
    const id = `${rel}.${stamp}${n === 0 ? "" : `.${n}`}.bak`;
    try {
      // Not fsynced: a backup is a convenience copy, and the commit records hold what crash safety needs.
      await writeExclusive(root, join(envDir, BACKUPS_DIR, id), content, 0o600, false);
      return id;
    } catch (error) {
      if (errnoCode(error) !== "EEXIST") throw error;
    }
  }
  throw new GreenticError("io", `could not reserve a backup name for ${rel} after 1024 attempts`, {
    hint: "check the backups directory",
  });
}

function compareBackups(a: BackupFile, b: BackupFile): number {
  return a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.seq - b.seq;
}

/** Every backup under `<envDir>/backups`, oldest first. */
export async function listBackupFiles(envDir: string): Promise<(BackupFile & { size_bytes: number })[]> {
  const out: (BackupFile & { size_bytes: number })[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(envDir, BACKUPS_DIR, rel), { withFileTypes: true });
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const id = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(id);
      else if (entry.isFile()) {
        const parsed = parseBackupId(id);
        if (parsed) out.push({ ...parsed, size_bytes: (await stat(join(envDir, BACKUPS_DIR, id))).size });
      }
    }
  };
  await walk("");
  return out.sort(compareBackups);
}

/** Keeps the newest `keep` backups of `rel`. Best effort. */
export async function pruneBackups(envDir: string, rel: string, keep: number): Promise<void> {
  const dir = join(envDir, BACKUPS_DIR, dirname(rel));
  const base = basename(rel);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const mine = names
    .map((n) => parseBackupId(n))
    .filter((b): b is BackupFile => b !== undefined && b.file === base)
    .sort(compareBackups);
  for (const old of mine.slice(0, Math.max(0, mine.length - keep)))
    await unlink(join(dir, old.backup_id)).catch(() => {});
}
