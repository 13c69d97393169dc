import { join } from "node:path";
import { readIfExists } from "./fs-safe.js";
import { JOURNAL_FILE, integrity, type StoreCore } from "./store-core.js";
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

export async function readJournal(core: StoreCore, envId: string): Promise<Journal | undefined> {
  const file = join(core.envDir(envId), JOURNAL_FILE);
  const raw = await readIfExists(file);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw.toString("utf8")) as Journal;
  } catch (error) {
    throw integrity(
      `${file}: not valid JSON (${(error as Error).message})`,
      file,
      "the journal is written atomically; inspect the file system",
    );
  }
}
