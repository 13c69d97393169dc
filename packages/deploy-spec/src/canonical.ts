import { createHash } from "node:crypto";

/**
 * Canonical JSON, byte for byte as the reference writes it (`integrity.rs::canonical_json`, i.e.
 * serde_json over a key-sorted `Value`):
 * - object keys sorted at every level by their UTF-8 bytes (Rust's `String` order), compact,
 *   arrays in order, `undefined` members dropped;
 * - integers print as integers; floats print as serde_json prints an `f64` (the `ryu` shortest
 *   form: `1.0`, `0.1`, `1e21`, `1.5e-7`); a number read with {@link parseJsonLossless} keeps
 *   what serde_json would have made of its source text (`1.0` stays `1.0`, `2^64 - 1` stays exact).
 * Non-finite numbers cannot be represented and are refused.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, "");
}

const U64_MAX = 18_446_744_073_709_551_615n;
const I64_MIN = -9_223_372_036_854_775_808n;
const TWO_POW_64 = 2 ** 64;
const TWO_POW_63 = 2 ** 63;

/** `JSON.rawJSON` / `JSON.isRawJSON` and the reviver's source text (Node >= 21; not yet in TS's lib). */
const RawJson = JSON as unknown as {
  rawJSON(text: string): { readonly rawJSON: string };
  isRawJSON(value: unknown): value is { readonly rawJSON: string };
  parse(text: string, reviver: (key: string, value: unknown, context: { source?: string }) => unknown): unknown;
};

/** How serde_json prints a finite `f64` (`ryu::Buffer::format_finite`). */
export function formatF64(n: number): string {
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const sign = n < 0 ? "-" : "";
  // toExponential() without an argument gives the shortest round-trip digits, as ryu does.
  const [mantissa, exp] = Math.abs(n).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const kk = Number(exp) + 1; // position of the decimal point relative to the first digit
  const k = kk - length;
  let out: string;
  if (k >= 0 && kk <= 16) out = `${digits}${"0".repeat(k)}.0`;
  else if (kk > 0 && kk <= 16) out = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -5 && kk <= 0) out = `0.${"0".repeat(-kk)}${digits}`;
  else if (length === 1) out = `${digits}e${kk - 1}`;
  else out = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  return sign + out;
}

/**
 * How serde_json prints the number it parses from `lexeme`: an integer lexeme that fits `u64`
 * or `i64` stays that integer (`-0` becomes the float `-0.0`, as in serde_json), anything else
 * becomes an `f64`. Throws on a lexeme that is not a JSON number or overflows to infinity.
 */
export function canonicalNumberLexeme(lexeme: string): string {
  if (/^-?(?:0|[1-9]\d*)$/u.test(lexeme)) {
    const big = BigInt(lexeme);
    if (lexeme === "-0") return "-0.0";
    if (big >= I64_MIN && big <= U64_MAX) return big.toString();
    return formatF64(Number(lexeme));
  }
  if (!/^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/u.test(lexeme))
    throw new TypeError(`canonicalJson: ${JSON.stringify(lexeme)} is not a JSON number`);
  const n = Number(lexeme);
  if (!Number.isFinite(n)) throw new TypeError(`canonicalJson: number ${lexeme} is out of range`);
  return formatF64(n);
}

function serializeNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new TypeError(`canonicalJson: non-finite number at ${path || "<root>"}`);
  // A JS number has lost whether its source was `1` or `1.0`; integral values are taken as the
  // integers they almost always are in documents (generations, weights, counters).
  if (Object.is(n, -0)) return "-0.0";
  if (Number.isInteger(n) && n < TWO_POW_64 && n >= -TWO_POW_63) return BigInt(n).toString();
  return formatF64(n);
}

/** Compares two keys by their UTF-8 bytes (equal to code point order; differs from UTF-16 order). */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF, which sort after 0xE000-0xFFFF
    // in UTF-8; everything else compares the same in UTF-16 and UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function serialize(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return serializeNumber(value, path);
    case "bigint":
      return value >= I64_MIN && value <= U64_MAX ? value.toString() : formatF64(Number(value));
    case "object": {
      if (RawJson.isRawJSON(value)) return canonicalNumberLexeme(value.rawJSON);
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => (item === undefined ? "null" : serialize(item, `${path}.${i}`))).join(",")}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort(compareUtf8);
      return `{${keys.map((k) => `${JSON.stringify(k)}:${serialize(record[k], path ? `${path}.${k}` : k)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialize ${typeof value} at ${path || "<root>"}`);
  }
}

/**
 * `JSON.parse` that loses no number: a number whose value a JS `number` cannot carry the way
 * serde_json does (an integer beyond 2^53, `-0`, or an integral float such as `1.0` or `1e2`) is
 * kept as a `JSON.rawJSON` of its source text. `JSON.stringify` writes those back verbatim and
 * {@link canonicalJson} formats them as the reference does. Throws `SyntaxError` like `JSON.parse`.
 */
export function parseJsonLossless(text: string): unknown {
  return RawJson.parse(text, (_key, value, context) => {
    if (typeof value !== "number" || context.source === undefined) return value;
    const src = context.source;
    const integerLexeme = /^-?\d+$/u.test(src);
    if (integerLexeme ? Number.isSafeInteger(value) && src !== "-0" : !Number.isInteger(value)) return value;
    return RawJson.rawJSON(src);
  });
}

/** Canonical JSON of a JSON text, parsed losslessly (see {@link parseJsonLossless}). */
export function canonicalJsonOfText(text: string): string {
  return canonicalJson(parseJsonLossless(text));
}

/** Lowercase hex SHA-256 of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 over canonical JSON: the digest the reference uses for integrity and ETags. */
export function canonicalDigest(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** {@link canonicalDigest} of a JSON text, with its numbers read losslessly. */
export function canonicalDigestOfText(text: string): string {
  return sha256Hex(canonicalJsonOfText(text));
}

/** Pretty JSON with a trailing newline: the on-disk form of every stored document. */
export function prettyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
