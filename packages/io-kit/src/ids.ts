// The one environment-id check of the project (and the identifier rule built on it): the store,
// deploy-spec's documents and the CLI all ask here, so an id accepted by one is accepted by all.

/** Longest environment, bundle or customer id accepted; ids are path segments elsewhere. */
export const ENV_ID_MAX_LENGTH = 128;

/** Why an environment id is unacceptable, or null when it is fine. */
export interface EnvIdProblem {
  code: "env-id-empty" | "env-id-too-long" | "env-id-leading-dot" | "env-id-invalid-char";
  message: string;
}

/** The one identifier charset: ASCII letters, digits, `.`, `_` and `-` (greentic-types `EnvId`). */
const ID_CHAR = /^[A-Za-z0-9._-]$/u;

/** Shows a character in a message: printable ASCII as itself, anything else as `U+XXXX` too. */
export function showChar(c: string): string {
  const cp = c.codePointAt(0)!;
  const shown = JSON.stringify(c);
  return cp >= 0x20 && cp < 0x7f ? shown : `${shown} (U+${cp.toString(16).toUpperCase().padStart(4, "0")})`;
}

function checkId(value: string, what: string, prefix: "env-id" | "id"): { code: string; message: string } | null {
  if (value.length === 0) return { code: `${prefix}-empty`, message: `${what} is empty` };
  if (value.length > ENV_ID_MAX_LENGTH) {
    return {
      code: `${prefix}-too-long`,
      message: `${what} is ${value.length} characters long; at most ${ENV_ID_MAX_LENGTH} are allowed`,
    };
  }
  if (value.startsWith("."))
    return { code: `${prefix}-leading-dot`, message: `${what} ${JSON.stringify(value)} starts with "."` };
  for (const c of value) {
    if (!ID_CHAR.test(c)) {
      return {
        code: `${prefix}-invalid-char`,
        message: `${what} ${JSON.stringify(value)} contains the forbidden character ${showChar(c)}; only ASCII letters, digits, ".", "_" and "-" are allowed`,
      };
    }
  }
  return null;
}

/**
 * Environment id rules: the reference's `EnvId` (greentic-types `validate_identifier`: non-empty,
 * ASCII letters, digits, `.`, `_`, `-` only) plus two rules of ours, since an id is a directory
 * name: no leading `.` (which also excludes `.` and `..`) and at most 128 characters. Non-ASCII
 * is refused outright, so bidi controls, homoglyphs and NFC/NFD variants cannot enter.
 */
export function checkEnvId(value: string): EnvIdProblem | null {
  return checkId(value, "environment id", "env-id") as EnvIdProblem | null;
}

/** True when `value` is a valid environment id (see {@link checkEnvId}). */
export function isEnvId(value: unknown): value is string {
  return typeof value === "string" && checkEnvId(value) === null;
}

/** Why a bundle or customer id is unacceptable, or null when it is fine. */
export interface IdProblem {
  code: "id-empty" | "id-too-long" | "id-leading-dot" | "id-invalid-char";
  message: string;
}

/**
 * Bundle and customer ids entering through answers or `op deploy`: the environment id charset
 * (the reference keeps them opaque; ours become path segments and log fields, so `a/b`,
 * `../../etc`, NUL, ESC and bidi controls are refused). `what` names the field in the message.
 */
export function checkIdentifier(value: string, what: string): IdProblem | null {
  return checkId(value, what, "id") as IdProblem | null;
}
