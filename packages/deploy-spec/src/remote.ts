import { canonicalDigest } from "./canonical.js";
import type { StateIntegrity } from "./documents.js";
import { GreenticError } from "./errors.js";

/** Integrity record over canonical JSON (the only algorithm is `sha-256`). */
export function computeIntegrity(value: unknown): StateIntegrity {
  return { algorithm: "sha-256", digest: canonicalDigest(value) };
}

/**
 * Verifies `value` against an integrity record. An unknown algorithm is an error rather than
 * a pass; a digest mismatch is an `integrity` error naming both digests.
 */
export function verifyIntegrity(
  value: unknown,
  integrity: { algorithm: string; digest: string },
  what = "document",
): void {
  if (integrity.algorithm !== "sha-256") {
    throw new GreenticError(
      "integrity",
      `${what}: unknown integrity algorithm ${JSON.stringify(integrity.algorithm)}`,
      { hint: "only sha-256 is supported" },
    );
  }
  const actual = canonicalDigest(value);
  if (actual !== integrity.digest) {
    throw new GreenticError(
      "integrity",
      `${what}: integrity mismatch (expected sha-256 ${integrity.digest}, got ${actual})`,
      {
        hint: "the data was altered or corrupted; restore it from a backup",
        details: { code: "integrity-mismatch", expected: integrity.digest, actual },
      },
    );
  }
}

/** The ETag of a state: its canonical digest (64 lowercase hex). */
export function computeEtag(value: unknown): string {
  return canonicalDigest(value);
}

/** The header form of an ETag: the strong quoted validator `"<hex>"`. */
export function formatEtag(etag: string): string {
  return `"${etag}"`;
}

/**
 * Parses an `If-Match` / ETag value: a strong quoted `"<64 hex>"` (or the bare hex). Weak
 * validators (`W/"..."`) and `*` are refused (`invalid-argument`), as in the reference.
 */
export function parseEtag(header: string): string {
  const value = header.trim();
  if (value === "*")
    throw new GreenticError("invalid-argument", 'If-Match "*" is not accepted; pin the exact ETag', {
      hint: "send the ETag returned by the last read or write",
    });
  if (/^W\//i.test(value))
    throw new GreenticError("invalid-argument", `weak ETag ${value} is not accepted; a strong validator is required`, {
      hint: "send the ETag without the W/ prefix as returned by the store",
    });
  const m = /^"([0-9a-f]{64})"$/.exec(value) ?? /^([0-9a-f]{64})$/.exec(value);
  if (!m)
    throw new GreenticError("invalid-argument", `ETag ${JSON.stringify(header)} is not a quoted SHA-256 hex digest`, {
      hint: 'an ETag looks like "<64 lowercase hex>"',
    });
  return m[1]!;
}

/** A compare-and-swap precondition: pin the ETag, the generation, or both. */
export interface Precondition {
  if_match?: string | undefined;
  expected_generation?: number | undefined;
}

/** The current state a precondition is checked against. */
export interface StateVersion {
  etag: string;
  generation: number;
}

export type PreconditionOutcome =
  | { status: "ok" }
  | { status: "required" }
  | {
      status: "conflict";
      expected_etag?: string;
      actual_etag: string;
      expected_generation?: number;
      actual_generation: number;
    };

/** Checks a precondition: `required` when nothing is pinned, `conflict` with both sides on a mismatch. */
export function checkPrecondition(precondition: Precondition | undefined, actual: StateVersion): PreconditionOutcome {
  const ifMatch = precondition?.if_match === undefined ? undefined : parseEtag(precondition.if_match);
  const generation = precondition?.expected_generation;
  if (ifMatch === undefined && generation === undefined) return { status: "required" };
  if (
    (ifMatch !== undefined && ifMatch !== actual.etag) ||
    (generation !== undefined && generation !== actual.generation)
  ) {
    return {
      status: "conflict",
      ...(ifMatch === undefined ? {} : { expected_etag: ifMatch }),
      actual_etag: actual.etag,
      ...(generation === undefined ? {} : { expected_generation: generation }),
      actual_generation: actual.generation,
    };
  }
  return { status: "ok" };
}

/** {@link checkPrecondition} as an error: `precondition-failed` for both `required` and `conflict`. */
export function assertPrecondition(
  precondition: Precondition | undefined,
  actual: StateVersion,
  what = "environment",
): void {
  const outcome = checkPrecondition(precondition, actual);
  if (outcome.status === "ok") return;
  if (outcome.status === "required") {
    throw new GreenticError(
      "precondition-failed",
      `${what}: a precondition is required (if_match or expected_generation)`,
      {
        hint: "pin the state you read: pass its ETag or generation",
        details: { code: "precondition-required" },
      },
    );
  }
  const { status: _status, ...details } = outcome;
  throw new GreenticError(
    "precondition-failed",
    `${what} changed since it was read (generation ${outcome.actual_generation}, etag ${outcome.actual_etag.slice(0, 12)}...)`,
    {
      hint: "reload the environment and retry against its current state",
      details: { code: "concurrency-conflict", ...details },
    },
  );
}

/** Whether a mutation ran or an earlier identical request was replayed. */
export type IdempotencyOutcome = "applied" | "replayed";

/** Restore a backup; the precondition is mandatory and must pin state. */
export interface RestoreRequest {
  backup_id: string;
  precondition: Precondition;
}

export interface RestoreOutcome {
  restored_generation: number;
  integrity: StateIntegrity;
}

export type RbacRole = "admin" | "operator" | "read-only";

/** What an authorization check is asked. */
export interface RbacRequest {
  actor: string;
  env_id: string;
  noun: string;
  verb: string;
  target?: unknown;
}

/** The answer of an authorization check, recorded in the audit event. */
export interface RbacDecision {
  decision: "allow" | "deny";
  policy: string;
  reason: string;
}
