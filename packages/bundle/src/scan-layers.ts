import { gunzipSync, inflateRawSync } from "node:zlib";
import { sha256Hex } from "@greentic/deploy-spec";
import { RULES, capturedSecret, isPlaceholder } from "./scan-rules.js";

/** One match inside a (possibly decoded) buffer, before it becomes a finding. */
export interface RawLeak {
  kind: "private_key" | "token" | "dev_store_file";
  rule: string;
  label: string;
  /** Byte offset in the outermost buffer where the decoded layer (or the match) starts. */
  offset: number;
  /** How the bytes were decoded to reach the match, e.g. `gzip > base64`; empty for plain. */
  layer: string;
  fingerprint: string;
  /** The secret itself, kept only to redact it from file names; never put into a finding. */
  secret: string;
}

/** Caps on decoding, so that a crafted file cannot make the scan explode. */
export const DECODE_LIMITS = {
  /** Layers decoded inside each other (gzip inside base64 inside zip ...). */
  maxDepth: 4,
  /** Bytes produced by all decoding of one file. */
  maxDecodedBytes: 64 * 1024 * 1024,
  /** base64 runs decoded per layer. */
  maxRunsPerLayer: 4096,
  /** Shortest base64 run worth decoding (16 characters = 12 bytes). */
  minBase64Run: 16,
  /** Text handed to secretlint per layer (it is much slower than our rules). */
  maxSecretlintChars: 4 * 1024 * 1024,
} as const;

export function fingerprint(secret: string): string {
  return `sha256:${sha256Hex(secret).slice(0, 12)}`;
}

/** secretlint's recommended preset, loaded on first use (it costs ~100 ms to import). */
let secretlint:
  | Promise<(text: string) => Promise<{ ruleId: string; messageId: string; range: readonly [number, number] }[]>>
  | undefined;

function loadSecretlint() {
  secretlint ??= (async () => {
    const [{ lintSource }, { creator }, { secretLintProfiler }] = await Promise.all([
      import("@secretlint/core"),
      import("@secretlint/secretlint-rule-preset-recommend"),
      import("@secretlint/profiler"),
    ]);
    // On by default, it keeps a performance mark per rule and file forever: most of the scan's
    // time and memory on big bundles went to it (secretlint's own advice is to turn it off).
    secretLintProfiler.setEnabled(false);
    const config = { rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: creator }] };
    return async (text: string) => {
      const result = await lintSource({
        source: { filePath: "/bundle/content", content: text, ext: "", contentType: "text" },
        options: { config, maskSecrets: true, noPhysicFilePath: true },
      });
      return result.messages.map((m) => ({ ruleId: m.ruleId, messageId: m.messageId, range: m.range }));
    };
  })();
  return secretlint;
}

interface Budget {
  decoded: number;
}

/** Printable share of the first 4 KiB: decoded base64 that is text (or a known container) is scanned. */
function looksDecodable(buf: Buffer): boolean {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return true;
  if (buf.length >= 4 && buf.readUInt32LE(0) === 0x04034b50) return true;
  if (utf16Encoding(buf) !== undefined) return true;
  const n = Math.min(buf.length, 4096);
  let printable = 0;
  for (let i = 0; i < n; i++) {
    const b = buf[i]!;
    if ((b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d || b >= 0x80) printable++;
  }
  return n > 0 && printable / n >= 0.9;
}

/** `utf-16le` / `utf-16be` when the bytes look like UTF-16 (a BOM, or NULs in every other byte). */
export function utf16Encoding(buf: Buffer): "utf-16le" | "utf-16be" | undefined {
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return "utf-16le";
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) return "utf-16be";
  const n = Math.min(buf.length, 4096) & ~1;
  if (n < 16) return undefined;
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < n; i += 2) {
    if (buf[i] === 0) evenZero++;
    if (buf[i + 1] === 0) oddZero++;
  }
  const pairs = n / 2;
  if (oddZero / pairs >= 0.4 && evenZero / pairs < 0.05) return "utf-16le";
  if (evenZero / pairs >= 0.4 && oddZero / pairs < 0.05) return "utf-16be";
  return undefined;
}

function decodeUtf16(buf: Buffer, encoding: "utf-16le" | "utf-16be"): string {
  let bytes = buf;
  if (encoding === "utf-16be") {
    bytes = Buffer.from(buf.subarray(0, buf.length & ~1));
    bytes.swap16();
  }
  const text = bytes.toString("utf16le");
  return text.startsWith("\ufeff") ? text.slice(1) : text;
}

/** Entries of a zip held in memory (stored or deflated), within the decode budget. */
function* zipEntries(buf: Buffer, budget: Budget): Generator<{ name: string; data: Buffer }> {
  let pos = 0;
  while (pos + 30 <= buf.length && buf.readUInt32LE(pos) === 0x04034b50) {
    const flags = buf.readUInt16LE(pos + 6);
    const method = buf.readUInt16LE(pos + 8);
    let compressed = buf.readUInt32LE(pos + 18);
    const nameLen = buf.readUInt16LE(pos + 26);
    const extraLen = buf.readUInt16LE(pos + 28);
    const name = buf.subarray(pos + 30, pos + 30 + nameLen).toString("utf8");
    const start = pos + 30 + nameLen + extraLen;
    if (flags & 0x08) {
      // Sizes follow the data (streamed zips): find the next local header or the central directory.
      let next = start;
      while (next + 4 <= buf.length) {
        const sig = buf.readUInt32LE(next);
        if (sig === 0x04034b50 || sig === 0x02014b50) break;
        next++;
      }
      compressed = Math.max(0, next - start - 16);
    }
    const raw = buf.subarray(start, Math.min(buf.length, start + compressed));
    pos = start + compressed + (flags & 0x08 ? 16 : 0);
    let data: Buffer | undefined;
    const room = DECODE_LIMITS.maxDecodedBytes - budget.decoded;
    if (room <= 0) return;
    try {
      if (method === 0) data = raw;
      else if (method === 8) data = inflateRawSync(raw, { maxOutputLength: room });
    } catch {
      data = undefined; // corrupt, encrypted or over budget: the raw bytes were scanned already
    }
    if (data === undefined) continue;
    budget.decoded += data.length;
    yield { name, data };
  }
}

// Every rule's hints in one case-insensitive alternation: one pass over the text tells which
// rules can match at all.
const HINTS = new RegExp(
  [...new Set(RULES.flatMap((r) => r.hints))].map((h) => h.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"),
  "gi",
);

function hintsIn(text: string): Set<string> {
  const found = new Set<string>();
  HINTS.lastIndex = 0;
  for (const m of text.matchAll(HINTS)) found.add(m[0].toLowerCase());
  return found;
}

const BASE64_RUN = /[A-Za-z0-9+/_-](?:[A-Za-z0-9+/_-]|\r?\n(?=[A-Za-z0-9+/_-])){14,}={0,2}/g;

/**
 * Scans a buffer with our rules and secretlint's, then decodes what it can find inside (gzip,
 * zip entries, UTF-16 text, base64 runs) and scans that too, down to `maxDepth` layers and
 * `maxDecodedBytes` in all. `offset` and `layer` locate a match in the outer file.
 */
export async function scanBuffer(buf: Buffer, out: RawLeak[], options: { raw?: boolean } = {}): Promise<void> {
  await scanLayer(
    buf,
    "",
    0,
    options.raw === true ? DECODE_LIMITS.maxDepth : 0,
    { decoded: 0 },
    out,
    new Set(),
    options.raw === true,
  );
}

async function scanLayer(
  buf: Buffer,
  layer: string,
  baseOffset: number,
  depth: number,
  budget: Budget,
  out: RawLeak[],
  seen: Set<string>,
  rawOnly = false,
): Promise<void> {
  const push = (leak: Omit<RawLeak, "layer"> & { layer?: string }) => {
    const full: RawLeak = { ...leak, layer: leak.layer ?? layer };
    const key = `${full.rule}|${full.fingerprint}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(full);
  };
  const sub = (name: string) => (layer === "" ? name : `${layer} > ${name}`);

  // gzip and zip containers: the bytes themselves are compressed, so only what they hold matters.
  if (depth < DECODE_LIMITS.maxDepth && buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    const room = DECODE_LIMITS.maxDecodedBytes - budget.decoded;
    let inner: Buffer | undefined;
    try {
      inner = room > 0 ? gunzipSync(buf, { maxOutputLength: room }) : undefined;
    } catch {
      inner = undefined;
    }
    if (inner !== undefined) {
      budget.decoded += inner.length;
      await scanLayer(inner, sub("gzip"), baseOffset, depth + 1, budget, out, seen);
    }
  }
  if (depth < DECODE_LIMITS.maxDepth && buf.length >= 4 && buf.readUInt32LE(0) === 0x04034b50) {
    for (const entry of zipEntries(buf, budget)) {
      await scanLayer(entry.data, sub(`zip:${entry.name}`), baseOffset, depth + 1, budget, out, seen);
    }
  }

  const utf16 = utf16Encoding(buf);
  // latin1 keeps one char per byte, so offsets are byte offsets and binary files are safe.
  const text = utf16 === undefined ? buf.toString("latin1") : decodeUtf16(buf, utf16);
  const textLayer = utf16 === undefined ? layer : sub(utf16);
  const offsetOf = (index: number) => baseOffset + (utf16 === undefined && layer === "" ? index : 0);

  const present = hintsIn(text);
  for (const rule of RULES) {
    if (!rule.hints.some((h) => present.has(h))) continue;
    rule.pattern.lastIndex = 0;
    for (const m of text.matchAll(rule.pattern)) {
      const secret = capturedSecret(m);
      if (rule.kind === "token" && secret !== m[0] && isPlaceholder(secret)) continue;
      push({
        kind: rule.kind,
        rule: rule.rule,
        label: rule.label,
        offset: offsetOf(m.index),
        layer: textLayer,
        fingerprint: fingerprint(secret),
        secret,
      });
    }
  }

  // secretlint reads text: the UTF-8 (or UTF-16) view, when the bytes are text at all.
  if (!rawOnly && (utf16 !== undefined || looksDecodable(buf))) {
    const view = (utf16 === undefined ? buf.toString("utf8") : text).slice(0, DECODE_LIMITS.maxSecretlintChars);
    const lint = await loadSecretlint();
    for (const msg of await lint(view)) {
      const secret = view.slice(msg.range[0], msg.range[1]);
      push({
        kind: /privatekey/i.test(msg.ruleId) ? "private_key" : "token",
        rule: `secretlint:${msg.ruleId.replace("@secretlint/secretlint-rule-", "")}/${msg.messageId}`,
        label: `a secret secretlint reports as ${msg.messageId}`,
        offset: offsetOf(msg.range[0]),
        layer: textLayer,
        fingerprint: fingerprint(secret),
        secret,
      });
    }
  }

  if (depth >= DECODE_LIMITS.maxDepth) return;
  let runs = 0;
  BASE64_RUN.lastIndex = 0;
  for (const m of text.matchAll(BASE64_RUN)) {
    const run = m[0].replace(/\r?\n/g, "").replace(/=+$/, "");
    if (run.length < DECODE_LIMITS.minBase64Run) continue;
    if (++runs > DECODE_LIMITS.maxRunsPerLayer) break;
    if (budget.decoded >= DECODE_LIMITS.maxDecodedBytes) break;
    const decoded = Buffer.from(run, /[-_]/.test(run) ? "base64url" : "base64");
    if (decoded.length < 12 || !looksDecodable(decoded)) continue;
    budget.decoded += decoded.length;
    await scanLayer(decoded, sub(`base64@${offsetOf(m.index)}`), offsetOf(m.index), depth + 1, budget, out, seen);
  }
}
