/** A parsed `secret://<env>/<path>` reference. */
export interface SecretRefParts {
  env: string;
  path: string;
}

/**
 * The reference's `uri_ref!` rule: the scheme, then a non-empty env segment (up to the first
 * `/`); what follows may be empty, so `secret://env` and `secret://env/` are valid refs whose
 * path is `""`.
 */
function parseScoped(value: string, scheme: string): SecretRefParts | null {
  if (!value.startsWith(scheme)) return null;
  const rest = value.slice(scheme.length);
  const slash = rest.indexOf("/");
  const env = slash < 0 ? rest : rest.slice(0, slash);
  if (env.length === 0) return null;
  return { env, path: slash < 0 ? "" : rest.slice(slash + 1) };
}

/** Parses `secret://<env>[/<path>]` (the env segment non-empty); null when malformed. */
export function parseSecretRef(value: string): SecretRefParts | null {
  return parseScoped(value, "secret://");
}

/** Parses `runtime://<env>[/<path>]` (the env segment non-empty); null when malformed. */
export function parseRuntimeRef(value: string): SecretRefParts | null {
  return parseScoped(value, "runtime://");
}

/** Parses `ext://<path>[/<instance>]`: path has a `.` and `[a-z0-9.-]`, instance `[a-z0-9-]`. */
export function parseExtensionRef(value: string): { path: string; instance?: string } | null {
  const m = /^ext:\/\/([a-z0-9.-]+)(?:\/([a-z0-9-]+))?$/.exec(value);
  if (!m || !m[1]!.includes(".")) return null;
  return m[2] === undefined ? { path: m[1]! } : { path: m[1]!, instance: m[2] };
}

/** Builds `secret://<env>/<path>`. */
export function secretRef(env: string, path: string): string {
  return `secret://${env}/${path}`;
}
