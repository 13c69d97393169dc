import { showChar } from "@greentic/io-kit";

/** Crockford base32 ULID, canonical upper-case form; the first character caps the 48-bit time. */
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** True when `value` is a 26-character ULID in the canonical upper-case Crockford form. */
export function isUlid(value: unknown): value is string {
  return typeof value === "string" && ULID_PATTERN.test(value);
}

export {
  ENV_ID_MAX_LENGTH,
  checkEnvId,
  checkIdentifier,
  isEnvId,
  type EnvIdProblem,
  type IdProblem,
} from "@greentic/io-kit";
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
