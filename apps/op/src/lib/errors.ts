import { GreenticError, type ErrorKind } from "@greentic/deploy-spec/errors";

/**
 * The one place where errors become exit codes and error envelopes. It imports the error family
 * from deploy-spec's light `errors` entry (no zod, no yaml), so printing a failure stays cheap.
 */

/** Exit codes of `op` (DESIGN.md, "Errors, output, exit codes"). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  conflict: 3,
  notFound: 4,
  unauthorized: 5,
} as const;

const EXIT_BY_KIND: Record<string, number> = {
  "invalid-argument": EXIT.usage,
  "answers-parse": EXIT.usage,
  validation: EXIT.usage,
  conflict: EXIT.conflict,
  "precondition-failed": EXIT.conflict,
  "idempotency-conflict": EXIT.conflict,
  locked: EXIT.conflict,
  "not-found": EXIT.notFound,
  unauthorized: EXIT.unauthorized,
  audit: EXIT.failure,
  io: EXIT.failure,
  integrity: EXIT.failure,
  internal: EXIT.failure,
};

/** The `error` object of the JSON envelope. */
export interface ErrorBody {
  kind: string;
  message: string;
  path?: string;
  hint?: string;
  issues?: { path: string; code: string; message: string }[];
  details?: Record<string, unknown>;
}

/**
 * A GreenticError raised by the CLI itself (bad flag combinations, unreadable answers files...),
 * with the positional arguments the commands use. The same class as the libraries' errors.
 */
export class CliInputError extends GreenticError {
  constructor(kind: ErrorKind, message: string, hint?: string, path?: string) {
    super(kind, message, { hint, path });
  }
}

interface KindedError {
  kind: string;
  message: string;
  hint?: unknown;
  path?: unknown;
  issues?: unknown;
  details?: unknown;
}

function isKinded(err: unknown): err is KindedError {
  return err instanceof GreenticError && err.kind in EXIT_BY_KIND;
}

/**
 * oclif's usage errors: parser errors carry `parse`; flag-value errors ("Parsing --x ...
 * Expected an integer") are plain CLIErrors, which carry `oclif`. `op` itself never throws
 * CLIError, so both mean the command line was wrong.
 */
function isParseError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (typeof (err as { parse?: unknown }).parse === "object" || typeof (err as { oclif?: unknown }).oclif === "object")
  );
}

/** Maps any thrown value to the error body and exit code `op` reports. */
export function classify(err: unknown): { body: ErrorBody; exit: number } {
  if (isKinded(err)) {
    const body: ErrorBody = { kind: err.kind, message: err.message };
    if (typeof err.path === "string") body.path = err.path;
    if (typeof err.hint === "string") body.hint = err.hint;
    if (Array.isArray(err.issues) && err.issues.length > 0) body.issues = err.issues as ErrorBody["issues"] & object;
    if (err.details && typeof err.details === "object") body.details = err.details as Record<string, unknown>;
    return { body, exit: EXIT_BY_KIND[err.kind] ?? EXIT.failure };
  }
  if (isParseError(err)) {
    const message = (err as Error).message.replace(/\nSee more help with --help$/, "");
    return { body: { kind: "invalid-argument", message, hint: "see the command's --help" }, exit: EXIT.usage };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    body: {
      kind: "internal",
      message: message || "unexpected error",
      hint: "this is a bug in op; please report it with the command you ran",
    },
    exit: EXIT.failure,
  };
}

/** Human form of an error for stderr: message, then the other issues, then the hint. */
export function renderHumanError(body: ErrorBody): string {
  const lines = [`Error: ${body.message}`];
  const rest = (body.issues ?? []).slice(1, 10);
  for (const issue of rest) lines.push(`  also: ${issue.path ? `${issue.path}: ` : ""}${issue.message}`);
  if ((body.issues?.length ?? 0) > 10) lines.push(`  ... and ${body.issues!.length - 10} more`);
  if (body.hint) lines.push(`Hint: ${body.hint}`);
  return `${lines.join("\n")}\n`;
}
