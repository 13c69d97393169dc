/**
 * Why `segment` cannot be used as one path component inside the store, or `undefined` when it
 * can. Ids become directory names, so anything that could escape or hide one is refused.
 * Imports nothing: the fast read path uses it too.
 */
export function unsafeSegmentReason(segment: string): string | undefined {
  if (segment === "") return "it is empty";
  if (segment === "." || segment === "..") return `"${segment}" is a relative path component`;
  if (segment.startsWith(".")) return "it starts with a dot (reserved for store internals)";
  if (segment.includes("\0")) return "it contains a NUL byte";
  const bad = /[/\\:\s]/u.exec(segment);
  if (bad) return `it contains ${JSON.stringify(bad[0])} (/, \\, : and whitespace are not allowed)`;
  if (Buffer.byteLength(segment) > 200) return "it is longer than 200 bytes";
  return undefined;
}

/**
 * Why `envId` is not an environment id the store accepts, or `undefined`: a safe segment made of
 * the reference's `EnvId` characters only (ASCII letters, digits, `.`, `_`, `-`; at most 128).
 * A directory named otherwise (`prod@eu`, `préprod`) is skipped by listings, as the reference's
 * store skips ids its `EnvId` refuses, and cannot be loaded or created.
 */
export function unsafeEnvIdReason(envId: string): string | undefined {
  const reason = unsafeSegmentReason(envId);
  if (reason !== undefined) return reason;
  const bad = /[^A-Za-z0-9._-]/u.exec(envId);
  if (bad) return `it contains ${JSON.stringify(bad[0])} (only ASCII letters, digits, '.', '_' and '-' are allowed)`;
  if (envId.length > 128) return "it is longer than 128 characters";
  return undefined;
}
