import type { z } from "zod";
import { canonicalJson } from "../canonical.js";
import { EnvironmentSchema, type Environment } from "../documents.js";
import { GreenticError } from "../errors.js";
import { crossReferenceIssues } from "../validate-environment.js";
import { issuesError, parseDocument } from "../validation.js";

/** What a transform may use besides its inputs: the time and an id generator. No clock, no randomness. */
export interface EngineContext {
  /** RFC 3339 timestamp for every time field the transform writes. */
  now: string;
  /** Returns a fresh ULID for ids the backend mints (deployment ids, revision ids). */
  newId: () => string;
}

/**
 * The output of a transform. With `error`, the change is committed and then the error is
 * reported (the reference's committed-on-error health-gate failure).
 */
export interface EngineOutput<R> {
  environment: Environment;
  result: R;
  error?: GreenticError;
}

/** Validates a transform's output (schema + cross-references); a failure is a `validation` error. */
export function finish<R>(environment: Environment, result: R, error?: GreenticError): EngineOutput<R> {
  const parsed = parseDocument(EnvironmentSchema, environment);
  if (!parsed.ok) throw issuesError(parsed.issues, { source: `environment ${environment.environment_id}` });
  const issues = crossReferenceIssues(parsed.value);
  if (issues.length > 0) throw issuesError(issues, { source: `environment ${environment.environment_id}` });
  return error === undefined ? { environment: parsed.value, result } : { environment: parsed.value, result, error };
}

/** Deep copy through JSON: transforms never modify their input. */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Drops keys whose value is `undefined` (for `exactOptionalPropertyTypes` and clean JSON). */
export function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function notFound(what: string, hint: string, details?: Record<string, unknown>): GreenticError {
  return new GreenticError("not-found", `${what} does not exist`, {
    hint,
    ...(details === undefined ? {} : { details }),
  });
}

/** Checks that a payload aimed at `environment_id` is applied to that environment. */
export function checkTarget(env: Environment, payload: { environment_id?: string | undefined }): void {
  if (payload.environment_id !== undefined && payload.environment_id !== env.environment_id) {
    throw new GreenticError(
      "validation",
      `payload environment_id ${JSON.stringify(payload.environment_id)} does not match environment ${JSON.stringify(env.environment_id)}`,
      {
        path: "environment_id",
        hint: "send the payload to the environment it names",
      },
    );
  }
}

const STASH_PREFIX = "inline://";

/**
 * One-step rollback stash: canonical JSON, URL-safe base64 without padding, prefixed with
 * `inline://`. `refKey` (the value's own `previous_*_ref`) is cleared first so stashes never nest.
 */
export function encodeStash<T extends Record<string, unknown>>(value: T, refKey: keyof T & string): string {
  const copy: Record<string, unknown> = { ...value };
  delete copy[refKey];
  return STASH_PREFIX + Buffer.from(canonicalJson(copy), "utf8").toString("base64url");
}

/** Decodes a stash written by {@link encodeStash} and validates it with `schema`. */
export function decodeStash<S extends z.ZodType>(ref: string, schema: S, what: string): z.output<S> {
  if (!ref.startsWith(STASH_PREFIX)) {
    throw new GreenticError(
      "validation",
      `${what} rollback reference ${JSON.stringify(ref.slice(0, 40))} is not an inline:// stash`,
      { hint: "only inline stashes can be rolled back" },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(ref.slice(STASH_PREFIX.length), "base64url").toString("utf8"));
  } catch (cause) {
    throw new GreenticError("integrity", `${what} rollback stash is not valid base64url JSON`, {
      cause,
      hint: "the stored environment was altered; restore it from a backup",
    });
  }
  const parsed = parseDocument(schema, value, { source: `${what} rollback stash` });
  if (!parsed.ok)
    throw new GreenticError("integrity", parsed.summary, {
      issues: parsed.issues,
      hint: "the stored environment was altered; restore it from a backup",
    });
  return parsed.value;
}
