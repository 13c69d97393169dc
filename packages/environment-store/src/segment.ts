import { checkEnvId } from "@greentic/io-kit";

/**
 * Why `segment` cannot be used as one path component inside the store, or `undefined` when it
 * can. Ids become directory names, so anything that could escape or hide one is refused.
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
 * Why `envId` is not an environment id the store accepts, or `undefined`: io-kit's one
 * environment-id check (ASCII letters, digits, `.`, `_`, `-`; no leading dot; at most 128), which
 * also makes it a safe segment. A directory named otherwise (`prod@eu`, `préprod`) is skipped by
 * listings, as the reference's store skips ids its `EnvId` refuses, and cannot be loaded or created.
 */
export function unsafeEnvIdReason(envId: string): string | undefined {
  return checkEnvId(envId)?.message;
}
