import { GreenticError, parseEtag } from "@greentic/deploy-spec/documents";
import type { Precondition } from "./types.js";

/** A precondition after its input check: the bare ETag hex and/or the generation. */
export interface CheckedPrecondition {
  etag?: string | undefined;
  generation?: number | undefined;
}

/**
 * The one input check of a compare-and-swap pin, run before anything is read or locked. An
 * `if_match` must be a strong ETag: `"<64 hex>"` or the bare hex. A weak validator
 * (`W/"…"`), `*` and an empty value are `invalid-argument` (exit 2 in the CLI), never compared:
 * a weak or wildcard match would let a writer overwrite a state it never saw.
 */
export function checkPreconditionInput(pre: Precondition | undefined): CheckedPrecondition | undefined {
  if (pre === undefined || pre === null) return undefined;
  const { if_match: ifMatch, expected_generation: expected } = pre;
  const out: CheckedPrecondition = {};
  if (ifMatch !== undefined) {
    if (typeof ifMatch !== "string")
      throw new GreenticError("invalid-argument", `if_match must be a string, got ${typeof ifMatch}`, {
        hint: 'pass the ETag returned by the last read, e.g. "<64 lowercase hex>"',
      });
    out.etag = parseEtag(ifMatch);
  }
  if (expected !== undefined) {
    if (!Number.isSafeInteger(expected) || expected < 0)
      throw new GreenticError(
        "invalid-argument",
        `expected_generation must be a non-negative integer, got ${JSON.stringify(expected)}`,
        { hint: "pass the generation returned by the last read" },
      );
    out.generation = expected;
  }
  return out.etag === undefined && out.generation === undefined ? undefined : out;
}

/**
 * Checks the caller's compare-and-swap pin (already through {@link checkPreconditionInput})
 * against the current state: `precondition-failed` naming both sides when it moved on.
 */
export function checkPrecondition(
  envId: string,
  current: { etag: string; generation: number } | undefined,
  pre: CheckedPrecondition | undefined,
): void {
  if (pre === undefined) return;
  const { etag: ifMatch, generation: expected } = pre;
  if (current === undefined) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} does not exist, but the request pins ${ifMatch !== undefined ? `etag ${ifMatch}` : `generation ${expected}`}`,
      {
        hint: "drop the precondition to create it, or check the environment id",
      },
    );
  }
  if (ifMatch !== undefined && ifMatch !== current.etag) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} changed: expected etag ${ifMatch}, actual ${current.etag} (generation ${current.generation})`,
      {
        hint: "reload the environment and retry against the current state",
        details: { expected_etag: ifMatch, actual_etag: current.etag, actual_generation: current.generation },
      },
    );
  }
  if (expected !== undefined && expected !== current.generation) {
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId} changed: expected generation ${expected}, actual ${current.generation}`,
      {
        hint: "reload the environment and retry against the current state",
        details: { expected_generation: expected, actual_generation: current.generation, actual_etag: current.etag },
      },
    );
  }
}
