import { createHash } from "node:crypto";

/**
 * Canonical JSON as the reference defines it: object keys sorted at every level (by UTF-16
 * code unit, explicitly, whatever the engine's insertion order), compact, arrays in order,
 * `undefined` members dropped. Non-finite numbers cannot be represented and are refused.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, "");
}

function serialize(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${path || "<root>"}`);
      return JSON.stringify(value);
    case "bigint":
      return value.toString();
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => (item === undefined ? "null" : serialize(item, `${path}.${i}`))).join(",")}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${serialize(record[k], path ? `${path}.${k}` : k)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialize ${typeof value} at ${path || "<root>"}`);
  }
}

/** Lowercase hex SHA-256 of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 over canonical JSON: the digest the reference uses for integrity and ETags. */
export function canonicalDigest(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** Pretty JSON with a trailing newline: the on-disk form of every stored document. */
export function prettyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
