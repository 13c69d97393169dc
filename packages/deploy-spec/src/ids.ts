/** Crockford base32 ULID, canonical upper-case form; the first character caps the 48-bit time. */
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** True when `value` is a 26-character ULID in the canonical upper-case Crockford form. */
export function isUlid(value: unknown): value is string {
  return typeof value === "string" && ULID_PATTERN.test(value);
}

/** Longest environment id accepted; ids are path segments and DNS-ish labels elsewhere. */
export const ENV_ID_MAX_LENGTH = 128;

/** Why an environment id is unacceptable, or null when it is fine. */
export interface EnvIdProblem {
  code: "env-id-empty" | "env-id-too-long" | "env-id-leading-dot" | "env-id-invalid-char";
  message: string;
}

/**
 * Environment id rules of the reference (`EnvId` plus the store's `safe_env_segment`): not
 * empty, no `/`, `\`, `:`, whitespace or control characters (NUL included), no leading `.`
 * (which also excludes `.` and `..`).
 */
export function checkEnvId(value: string): EnvIdProblem | null {
  if (value.length === 0) return { code: "env-id-empty", message: "environment id is empty" };
  if (value.length > ENV_ID_MAX_LENGTH) {
    return {
      code: "env-id-too-long",
      message: `environment id is ${value.length} characters long; at most ${ENV_ID_MAX_LENGTH} are allowed`,
    };
  }
  if (value.startsWith("."))
    return { code: "env-id-leading-dot", message: `environment id ${JSON.stringify(value)} starts with "."` };
  // eslint-disable-next-line no-control-regex
  const bad = /[/\\:\s\u0000-\u001f\u007f]/u.exec(value);
  if (bad) {
    return {
      code: "env-id-invalid-char",
      message: `environment id ${JSON.stringify(value)} contains the forbidden character ${JSON.stringify(bad[0])}`,
    };
  }
  return null;
}

/** True when `value` is a valid environment id (see {@link checkEnvId}). */
export function isEnvId(value: unknown): value is string {
  return typeof value === "string" && checkEnvId(value) === null;
}
