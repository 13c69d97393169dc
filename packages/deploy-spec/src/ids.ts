/** Crockford base32 ULID, canonical upper-case form; the first character caps the 48-bit time. */
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** True when `value` is a 26-character ULID in the canonical upper-case Crockford form. */
export function isUlid(value: unknown): value is string {
  return typeof value === "string" && ULID_PATTERN.test(value);
}

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
function showChar(c: string): string {
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

/** Why a route host is unacceptable, or null when it is fine. */
export interface HostProblem {
  code: "host-invalid";
  message: string;
}

const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/u;

/**
 * A route binding host: a DNS name of ASCII letter-digit-hyphen labels (at most 253 characters),
 * optionally with a leading `*.` wildcard, or a bracketed IPv6 literal, either with an optional
 * `:port`. Internationalised names are written in their ASCII (`xn--`) form: any other character,
 * control characters, bidi controls and look-alikes included, is refused.
 */
export function checkRouteHost(value: string): HostProblem | null {
  const bad = (why: string): HostProblem => ({
    code: "host-invalid",
    message: `host ${JSON.stringify(value)} ${why}`,
  });
  let rest = value;
  const port = /:(\d{1,5})$/u.exec(rest);
  if (port) {
    if (Number(port[1]) > 65_535) return bad(`has port ${port[1]}, above 65535`);
    rest = rest.slice(0, port.index);
  }
  if (rest.startsWith("[") && rest.endsWith("]")) {
    return /^\[[0-9A-Fa-f:.]+\]$/u.test(rest) && rest.includes(":") ? null : bad("is not an IPv6 literal");
  }
  if (rest.startsWith("*.")) rest = rest.slice(2);
  if (rest.length === 0) return bad("is empty");
  if (rest.length > 253) return bad(`is ${rest.length} characters long; at most 253 are allowed`);
  for (const c of rest) {
    if (!/^[A-Za-z0-9.-]$/u.test(c)) {
      return bad(
        `contains the forbidden character ${showChar(c)}; write internationalised names in their ASCII (xn--) form`,
      );
    }
  }
  const labels = rest.split(".");
  if (labels.some((l) => !HOST_LABEL.test(l)))
    return bad("has an empty label or one that starts or ends with '-' or exceeds 63 characters");
  return null;
}
