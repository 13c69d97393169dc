/**
 * The one error family every Greentic library throws. `kind` is stable and is what callers
 * (and the CLI's exit-code mapping) switch on; `message` names the file, field and value at
 * fault; `hint` says what to do about it.
 */
export const ERROR_KINDS = [
  "invalid-argument",
  "answers-parse",
  "validation",
  "not-found",
  "conflict",
  "precondition-failed",
  "idempotency-conflict",
  "locked",
  "unauthorized",
  "audit",
  "io",
  "integrity",
  "internal",
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** One problem found while validating a document: where, a stable code, and what is wrong. */
export interface ValidationIssue {
  /** Field path, e.g. `traffic_splits.0.entries.1.weight_bps`; empty for the document itself. */
  path: string;
  /** Stable machine-readable code, e.g. `basis-points-sum`, `unknown-field`. */
  code: string;
  message: string;
}

export interface GreenticErrorOptions {
  hint?: string | undefined;
  /** Field path (or file path) the error is about. */
  path?: string | undefined;
  issues?: readonly ValidationIssue[] | undefined;
  /** Extra machine-readable detail included in JSON output. */
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

export class GreenticError extends Error {
  override readonly name = "GreenticError";
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly path: string | undefined;
  readonly issues: readonly ValidationIssue[];
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, message: string, options: GreenticErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.hint = options.hint;
    this.path = options.path;
    this.issues = options.issues ?? [];
    this.details = options.details;
  }

  /** The `error` object of the JSON envelope: `{kind, message, path?, hint?, issues?, details?}`. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { kind: this.kind, message: this.message };
    if (this.path !== undefined) out.path = this.path;
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.issues.length > 0) out.issues = this.issues;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

export function isGreenticError(value: unknown): value is GreenticError {
  return value instanceof GreenticError;
}

/** True when `value` is a GreenticError of the given kind. Handy in tests and retry loops. */
export function isErrorKind(value: unknown, kind: ErrorKind): value is GreenticError {
  return value instanceof GreenticError && value.kind === kind;
}
