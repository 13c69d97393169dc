import { canonicalJson } from "./canonical.js";

/**
 * Size limits on answers payloads, enforced by every library entry point that takes one (the
 * operations verbs check them before anything is looked up) and by the CLI before it reads a
 * file. Answers are small documents written by people: anything beyond these is a mistake or an
 * attack, and refusing it early keeps the store, the audit log and terminals readable.
 */

/** Largest answers payload: the file as read, or the payload serialized as canonical JSON (1 MiB). */
export const ANSWERS_MAX_BYTES = 1024 * 1024;
/** Longest string (or object key) in a payload, in characters; a secret value may be longer. */
export const TEXT_MAX_CHARS = 4096;
/** Longest secret value (the top-level `value` of the secrets verbs), in characters. */
export const SECRET_MAX_CHARS = 65_536;

/** A value over a limit: where it is, how big it is and the limit. */
export interface OversizedValue {
  /** Field path (`entries.0.revision_id`; `""` for the whole payload). */
  path: string;
  /** Characters for a string, bytes for the whole payload. */
  length: number;
  max: number;
  unit: "characters" | "bytes";
}

/**
 * The first string longer than {@link TEXT_MAX_CHARS} anywhere in a payload (a top-level
 * secret `value`: {@link SECRET_MAX_CHARS}), or an object key that long, naming its path.
 * Undefined when everything fits.
 */
export function oversizedText(value: unknown, path = ""): OversizedValue | undefined {
  if (typeof value === "string") {
    const max = path === "value" ? SECRET_MAX_CHARS : TEXT_MAX_CHARS;
    return value.length > max ? { path, length: value.length, max, unit: "characters" } : undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.length > TEXT_MAX_CHARS)
      return { path: path === "" ? k.slice(0, 40) : path, length: k.length, max: TEXT_MAX_CHARS, unit: "characters" };
    const found = oversizedText(v, path === "" ? k : `${path}.${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Checks a whole payload against the limits: first its serialized size (canonical JSON,
 * UTF-8 bytes; a value that cannot be serialized is left to the schema), then every string.
 */
export function checkPayloadLimits(value: unknown): OversizedValue | undefined {
  let bytes: number | undefined;
  try {
    bytes = Buffer.byteLength(canonicalJson(value), "utf8");
  } catch {
    bytes = undefined;
  }
  if (bytes !== undefined && bytes > ANSWERS_MAX_BYTES)
    return { path: "", length: bytes, max: ANSWERS_MAX_BYTES, unit: "bytes" };
  return oversizedText(value);
}
