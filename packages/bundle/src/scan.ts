import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extractBundle } from "./extract.js";
import type { BundleLimits } from "./limits.js";
import { type RawLeak, scanBuffer } from "./scan-layers.js";
import { walkTree } from "./walk.js";

/** Kinds of leak the scanner reports (the first four as in the reference implementation). */
export type LeakKind =
  | "dev_store_path"
  | "secret_values_populated"
  | "normalized_answers_leak"
  | "archive_bytes_contains_dev_path"
  | "dev_store_file"
  | "private_key"
  | "token";

/** One leak. Never holds the secret: at most a short fingerprint of it. */
export interface LeakFinding {
  kind: LeakKind;
  /** Path inside the bundle (or the image file for raw-byte findings). */
  path: string;
  message: string;
  /** Which pattern matched, e.g. `aws-access-key-id`. */
  rule?: string;
  /** Byte offset of the match in the file. */
  offset?: number;
  /** `sha256:` + the first 12 hex digits of the secret's SHA-256, to tell findings apart. */
  fingerprint?: string;
  /** How the content was decoded to find it, e.g. `gzip > base64@12`, `utf-16le`, `zip:a.txt`. */
  layer?: string;
  /** Set when the secret is in the entry's name or its symlink target rather than its content. */
  location?: "name" | "symlink target";
}

/** Result of a scan: `ok` is true when there are no findings. */
export interface LeakReport {
  ok: boolean;
  findings: LeakFinding[];
}

const DEV_PATH_MARKERS = [".greentic/dev/", ".greentic/state/dev/", ".dev.secrets.env"] as const;

/** True for paths the dev secret store uses: under `.greentic/dev/`, `.greentic/state/dev/`, or named `.dev.secrets.env`. */
export function isDevStorePath(path: string): boolean {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.at(-1) === ".dev.secrets.env") return true;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] !== ".greentic") continue;
    if (parts[i + 1] === "dev" && parts.length > i + 1) return true;
    if (parts[i + 1] === "state" && parts[i + 2] === "dev") return true;
  }
  return false;
}

/** Files up to this size are read whole and decoded layer by layer; larger ones are streamed raw. */
const LAYERED_SCAN_MAX_BYTES = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const OVERLAP = 4096;

function toFinding(path: string, leak: RawLeak, where: "content" | "name" | "symlink target"): LeakFinding {
  const via = leak.layer === "" ? "" : ` (decoded: ${leak.layer})`;
  const at = where === "content" ? ` at byte ${leak.offset}${via}` : "";
  const subject = where === "content" ? path : `the ${where} of ${path}`;
  return {
    kind: leak.kind,
    path,
    rule: leak.rule,
    ...(where === "content" ? { offset: leak.offset } : {}),
    ...(leak.layer === "" ? {} : { layer: leak.layer }),
    ...(where === "content" ? {} : { location: where }),
    fingerprint: leak.fingerprint,
    message: `${subject} contains ${leak.label}${at} (value redacted).`,
  };
}

/** Scans one file's bytes: read whole and decoded when it fits, else streamed with our rules only. */
async function scanContent(file: string, path: string, size: number, findings: LeakFinding[]): Promise<void> {
  const leaks: RawLeak[] = [];
  if (size <= LAYERED_SCAN_MAX_BYTES) {
    await scanBuffer(await readFile(file), leaks);
  } else {
    // Too big to decode in memory: raw bytes in overlapping chunks, our own rules only.
    let carry = Buffer.alloc(0);
    let carryStart = 0;
    const seen = new Set<string>();
    for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
      const buf = Buffer.concat([carry, chunk as Buffer]);
      const part: RawLeak[] = [];
      await scanBuffer(buf, part, { raw: true });
      for (const leak of part) {
        const offset = carryStart + leak.offset;
        const key = `${leak.rule}@${offset}`;
        if (seen.has(key)) continue;
        seen.add(key);
        leaks.push({ ...leak, offset });
      }
      const keep = Math.min(OVERLAP, buf.length);
      carryStart += buf.length - keep;
      carry = buf.subarray(buf.length - keep);
    }
  }
  for (const leak of leaks) findings.push(toFinding(path, leak, "content"));
}

/**
 * Scans a short string (a file name or a symlink target) with the same rules. A secret found in
 * a name is added to `redact`: the path of every finding then shows its fingerprint instead.
 */
async function scanName(
  value: string,
  path: string,
  where: "name" | "symlink target",
  findings: LeakFinding[],
  redact: Map<string, string>,
) {
  const leaks: RawLeak[] = [];
  await scanBuffer(Buffer.from(value, "utf8"), leaks);
  for (const leak of leaks) {
    if (where === "name") redact.set(leak.secret, leak.fingerprint);
    findings.push(toFinding(path, leak, where));
  }
}

/** Replaces secrets found in file names by `[redacted sha256:…]` wherever a finding shows a path. */
function redactNames(findings: LeakFinding[], redact: Map<string, string>): void {
  if (redact.size === 0) return;
  const secrets = [...redact.keys()].sort((a, b) => b.length - a.length);
  const clean = (text: string) => secrets.reduce((t, s) => t.replaceAll(s, `[redacted ${redact.get(s)}]`), text);
  for (const f of findings) {
    f.path = clean(f.path);
    f.message = clean(f.message);
  }
}

function nonEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "string") return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** Setup answer files: `state/setup/*.json` with populated `secret_values` or secret answers kept. */
async function scanSetupAnswers(file: string, path: string, findings: LeakFinding[]): Promise<void> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, "utf8"));
  } catch {
    return; // not JSON: the content scan still looks at it
  }
  if (typeof doc !== "object" || doc === null) return;
  const record = doc as Record<string, unknown>;
  if (nonEmpty(record.secret_values)) {
    const keys =
      typeof record.secret_values === "object" && record.secret_values !== null
        ? Object.keys(record.secret_values).length
        : 1;
    findings.push({
      kind: "secret_values_populated",
      path,
      message: `${path} has ${keys} populated secret_values entr${keys === 1 ? "y" : "ies"} (values redacted).`,
    });
  }
  const answers = record.normalized_answers;
  const form = record.form as { questions?: unknown } | undefined;
  if (typeof answers === "object" && answers !== null && Array.isArray(form?.questions)) {
    for (const q of form.questions as Array<Record<string, unknown>>) {
      if (q?.secret === true && typeof q.id === "string" && nonEmpty((answers as Record<string, unknown>)[q.id])) {
        findings.push({
          kind: "normalized_answers_leak",
          path,
          message: `${path} keeps the answer to secret question ${JSON.stringify(q.id)} in normalized_answers (value redacted).`,
        });
      }
    }
  }
}

function isSetupAnswers(path: string): boolean {
  return /(?:^|\/)state\/setup\/[^/]+\.json$/.test(path);
}

/** Scans a bundle tree (before build, or after extraction) for leaked secrets. Symlinks are not followed. */
export async function scanDirectory(dir: string): Promise<LeakReport> {
  const findings: LeakFinding[] = [];
  const redact = new Map<string, string>();
  for (const node of await walkTree(dir)) {
    if (isDevStorePath(node.path)) {
      findings.push({
        kind: "dev_store_path",
        path: node.path,
        message: `${node.path} is a dev secret-store path and must not be shipped.`,
      });
    }
    if (node.type === "symlink" && node.target !== undefined && isDevStorePath(node.target)) {
      findings.push({
        kind: "dev_store_path",
        path: node.path,
        message: `${node.path} is a symlink into the dev secret store.`,
      });
    }
    await scanName(node.path.split("/").at(-1)!, node.path, "name", findings, redact);
    if (node.type === "symlink" && node.target !== undefined)
      await scanName(node.target, node.path, "symlink target", findings, redact);
    if (node.type !== "file") continue;
    const abs = join(dir, node.path);
    if (isSetupAnswers(node.path)) await scanSetupAnswers(abs, node.path, findings);
    await scanContent(abs, node.path, node.size, findings);
  }
  redactNames(findings, redact);
  return { ok: findings.length === 0, findings };
}

/**
 * Scans raw archive bytes for dev-store path strings (the CI gate of the reference): names and
 * uncompressed fragments show up there even when no extractor would surface them.
 */
export async function scanArchiveBytes(file: string, label = file): Promise<LeakFinding[]> {
  const findings: LeakFinding[] = [];
  const found = new Set<string>();
  let carry = "";
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
    const text = carry + (chunk as Buffer).toString("latin1");
    for (const marker of DEV_PATH_MARKERS) {
      if (!found.has(marker) && text.includes(marker)) {
        found.add(marker);
        findings.push({
          kind: "archive_bytes_contains_dev_path",
          path: label,
          message: `The archive bytes of ${label} contain the dev-store marker ${JSON.stringify(marker)}.`,
        });
      }
    }
    carry = text.slice(-64);
  }
  return findings;
}

/** Scans a `.gtbundle`: raw image bytes, then the content extracted into a private temp dir. */
export async function scanBundle(file: string, limits?: Partial<BundleLimits>): Promise<LeakReport> {
  const findings = await scanArchiveBytes(file);
  const tmp = await mkdtemp(join(tmpdir(), "greentic-scan-"));
  try {
    const { destDir } = await extractBundle(file, join(tmp, "content"), limits);
    findings.push(...(await scanDirectory(destDir)).findings);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { ok: findings.length === 0, findings };
}
