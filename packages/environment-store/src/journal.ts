import { join } from "node:path";
import { readIfExists } from "./fs-safe.js";
import { parseBackupId } from "./backups.js";
import { unsafeSegmentReason } from "./env-id.js";
import {
  JOURNAL_FILE,
  LEDGER_DIR,
  RUNTIME_CONFIG_FILE,
  RUNTIME_FILE,
  integrity,
  type StoreCore,
} from "./store-core.js";
import type { AuditEventRecord } from "./types.js";

/**
 * The commit journal (`<env>/.txn.json`). Side files (runtime, answers, runtime-config, the
 * ledger entry) are written before `environment.json`, whose atomic rename is the commit
 * point; the audit event is appended after it. The journal, written first, lists each side
 * file's previous version (a backup id, or null for "did not exist") and the audit event. The
 * next transaction (and `load`) compares it with the committed generation: still at
 * `base_generation` means the commit never happened, so the side files are rolled back; at
 * `generation` means it did, so a missing audit event is appended.
 */
export interface Journal {
  schema: "greentic.store-journal.v1";
  base_generation: number | null;
  generation: number;
  files: { path: string; prior: string | null }[];
  event: AuditEventRecord;
}

/** Whether `rel` is a side file a commit may write (and recovery may therefore restore or remove). */
export function isSideFile(rel: string): boolean {
  if (rel === RUNTIME_FILE || rel === RUNTIME_CONFIG_FILE) return true;
  const parts = rel.split("/");
  if (parts.length === 3 && parts[0] === "env-packs" && parts[2] === "answers.json")
    return unsafeSegmentReason(parts[1]!) === undefined;
  return parts.length === 2 && parts[0] === LEDGER_DIR && /^\d{12}-[0-9a-f]{32}\.json$/u.test(parts[1]!);
}

const isGeneration = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Why `value` is not a journal recovery may act on for `envId`, or `undefined`. Recovery
 * writes and deletes the files a journal names, so a damaged or planted journal must not be
 * able to point it outside the side files or at another environment's event.
 */
export function journalProblem(value: unknown, envId: string): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "it is not a JSON object";
  const j = value as Record<string, unknown>;
  if (j.schema !== "greentic.store-journal.v1") return `schema is ${JSON.stringify(j.schema)}`;
  if (j.base_generation !== null && !isGeneration(j.base_generation))
    return `base_generation ${JSON.stringify(j.base_generation)} is not a generation`;
  if (!isGeneration(j.generation)) return `generation ${JSON.stringify(j.generation)} is not a generation`;
  if (j.base_generation !== null && j.generation < j.base_generation)
    return `generation ${j.generation} is below base_generation ${j.base_generation}`;
  if (!Array.isArray(j.files)) return "files is not a list";
  const seen = new Set<string>();
  for (const [i, f] of j.files.entries()) {
    if (typeof f !== "object" || f === null) return `files[${i}] is not an object`;
    const { path, prior } = f as { path?: unknown; prior?: unknown };
    if (typeof path !== "string" || !isSideFile(path))
      return `files[${i}].path ${JSON.stringify(path)} is not a side file`;
    if (seen.has(path)) return `files[${i}].path ${path} is listed twice`;
    seen.add(path);
    if (prior !== null && (typeof prior !== "string" || parseBackupId(prior)?.file !== path))
      return `files[${i}].prior ${JSON.stringify(prior)} is not a backup of ${path}`;
  }
  const event = j.event as Record<string, unknown> | null;
  if (typeof event !== "object" || event === null) return "event is not an object";
  if (event.schema !== "greentic.audit.event.v1" || typeof event.event_id !== "string")
    return "event is not an audit event";
  if (event.env_id !== envId) return `event belongs to environment ${JSON.stringify(event.env_id)}`;
  return undefined;
}

/** Reads and validates the journal; `integrity` naming the file when it is damaged. */
export async function readJournal(core: StoreCore, envId: string): Promise<Journal | undefined> {
  const file = join(core.envDir(envId), JOURNAL_FILE);
  const raw = await readIfExists(file);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw integrity(
      `${file}: not valid JSON (${(error as Error).message})`,
      file,
      "the journal is written atomically, so something else wrote it; inspect it, then remove it and check the side files against backups/",
    );
  }
  const problem = journalProblem(value, envId);
  if (problem !== undefined)
    throw integrity(
      `${file}: not a valid commit journal (${problem}); recovery will not act on it`,
      file,
      "inspect it, then remove it and check the side files against backups/",
    );
  return value as Journal;
}
