/** A parsed `secret://<env>/<path>` reference. */
export interface SecretRefParts {
  env: string;
  path: string;
}

/** Parses `secret://<env>/<path>` (both segments non-empty); null when malformed. */
export function parseSecretRef(value: string): SecretRefParts | null {
  const m = /^secret:\/\/([^/]+)\/(.+)$/.exec(value);
  return m ? { env: m[1]!, path: m[2]! } : null;
}

/** Parses `runtime://<env>/<path>` (both segments non-empty); null when malformed. */
export function parseRuntimeRef(value: string): SecretRefParts | null {
  const m = /^runtime:\/\/([^/]+)\/(.+)$/.exec(value);
  return m ? { env: m[1]!, path: m[2]! } : null;
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
