/**
 * Revision tags: short names an operator gives revisions (`canary`, `blue`), usable wherever a
 * revision reference is taken (`op traffic set canary=10 stable=90`). A tag names at most one
 * revision per deployment.
 *
 * The reference has no tags. They are stored as `tags` on the revision document, a field the
 * reference's serde ignores when it reads and drops when it rewrites the environment; the field is
 * left out when a revision has none, so documents without tags are byte-identical to the
 * reference's (see docs/internals/reference-differences.md#revision-tags).
 */

/**
 * A lower-case letter, then up to 62 lower-case letters, digits or `-`. Starting with a letter
 * keeps every tag apart from ULID prefixes (which start with 0-7) and from `@N`.
 */
export const REVISION_TAG_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** Words that are revision references of their own and so cannot be tags. */
export const RESERVED_REVISION_TAGS = ["latest", "previous", "stable"] as const;

/** Why `tag` cannot be a revision tag, or null when it can. */
export function checkRevisionTag(tag: string): { code: string; message: string } | null {
  if ((RESERVED_REVISION_TAGS as readonly string[]).includes(tag))
    return {
      code: "reserved-tag",
      message: `${JSON.stringify(tag)} is reserved: latest, previous and stable already name revisions`,
    };
  if (!REVISION_TAG_PATTERN.test(tag))
    return {
      code: "invalid-tag",
      message: `${JSON.stringify(tag)}: tags are a lower-case letter, then up to 62 lower-case letters, digits or '-'`,
    };
  return null;
}
