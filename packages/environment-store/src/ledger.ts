import { readdirSync } from "node:fs";
import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  GreenticError,
  IdempotencyEntrySchema,
  parseDocument,
  sha256Hex,
  type ValidationIssue,
} from "@greentic/deploy-spec/documents";
import { errnoCode, ioError, readIfExists } from "./fs-safe.js";
import type { AuditEventRecord } from "./types.js";

/** What a keyed mutation recorded, replayed verbatim on a retry with the same key and request. */
export interface LedgerEntry {
  schema: "greentic.idempotency-entry.v1";
  key: string;
  fingerprint: string;
  noun: string;
  verb: string;
  /** The environment generation this mutation produced (or left unchanged). */
  generation: number;
  recorded_at: string;
  response: { result: unknown; etag: string; generation: number; audit: AuditEventRecord };
  /** A committed-on-error outcome: the error is replayed too. */
  error?: Record<string, unknown> | undefined;
}

/**
 * One file per key, named `<generation, 12 digits>-<sha256(key)[0..32]>.json`: lookups are one
 * readdir, and sorting the names orders entries oldest first for eviction. Because the name
 * carries the generation, an entry left by a transaction that crashed before its commit point
 * is recognisable (its generation is above the committed one) and the journal removes it.
 */
export function ledgerFileName(generation: number, key: string): string {
  return `${String(generation).padStart(12, "0")}-${keyHash(key)}.json`;
}

function keyHash(key: string): string {
  return sha256Hex(key).slice(0, 32);
}

export async function findLedgerEntry(dir: string, key: string): Promise<LedgerEntry | undefined> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw ioError("listing", dir, error);
  }
  const suffix = `-${keyHash(key)}.json`;
  for (const name of names) {
    if (!name.endsWith(suffix)) continue;
    const file = join(dir, name);
    const raw = await readIfExists(file);
    if (raw === undefined) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw.toString("utf8"));
    } catch (error) {
      throw badEntry(file, `not valid JSON (${(error as Error).message})`);
    }
    const parsed = parseDocument(IdempotencyEntrySchema, value);
    if (!parsed.ok) throw badEntry(file, parsed.summary, parsed.issues);
    const entry = parsed.value as LedgerEntry;
    if (entry.key === key) return entry;
  }
  return undefined;
}

/**
 * A damaged entry is never read as "no entry": that would apply a keyed request a second
 * time. It is an `integrity` error naming the file.
 */
function badEntry(file: string, problem: string, issues?: ValidationIssue[]): GreenticError {
  return new GreenticError("integrity", `idempotency ledger entry ${file} is damaged: ${problem}`, {
    path: file,
    issues,
    hint: "the request it records may already be applied: check `op audit list` for its key, then move the file aside and retry",
  });
}

/**
 * What is wrong with a ledger entry (deploy-spec's `IdempotencyEntrySchema`, through its one
 * issues path: the first issue with its field), or undefined when it is sound. For backends
 * that report a damaged entry their own way.
 */
export function ledgerEntryProblem(value: unknown): string | undefined {
  const parsed = parseDocument(IdempotencyEntrySchema, value);
  return parsed.ok ? undefined : parsed.summary;
}

/** Deletes the oldest entries beyond `capacity`. Best effort: eviction never fails a mutation. */
export async function evictLedger(dir: string, capacity: number): Promise<void> {
  try {
    const names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
    for (const name of names.slice(0, Math.max(0, names.length - capacity)))
      await unlink(join(dir, name)).catch(() => {});
  } catch {
    // nothing to evict
  }
}

export function checkIdempotencyKey(key: unknown): asserts key is string | undefined {
  if (key === undefined) return;
  if (typeof key !== "string" || key.length === 0 || Buffer.byteLength(key) > 255) {
    throw new GreenticError(
      "invalid-argument",
      `idempotency key ${JSON.stringify(key)} must be a non-empty string of at most 255 bytes`,
      {
        hint: "use a ULID per logical request and reuse it only when retrying that request",
      },
    );
  }
}

/** Rebuilds a recorded committed-on-error error for a replay. */
export function replayedError(stored: Record<string, unknown>): GreenticError {
  const kind = (typeof stored.kind === "string" ? stored.kind : "internal") as GreenticError["kind"];
  return new GreenticError(kind, String(stored.message ?? "replayed error"), {
    hint: typeof stored.hint === "string" ? stored.hint : undefined,
    path: typeof stored.path === "string" ? stored.path : undefined,
    details: { ...(stored.details as Record<string, unknown> | undefined), idempotency: "replayed" },
  });
}
