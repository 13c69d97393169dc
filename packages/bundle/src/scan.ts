import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex } from "@greentic/deploy-spec";
import { extractBundle } from "./extract.js";
import type { BundleLimits } from "./limits.js";
import { walkTree } from "./walk.js";

/** Kinds of leak the scanner reports (the first four as in the reference implementation). */
export type LeakKind =
  | "dev_store_path"
  | "secret_values_populated"
  | "normalized_answers_leak"
  | "archive_bytes_contains_dev_path"
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

interface SecretRule {
  kind: "private_key" | "token";
  rule: string;
  label: string;
  pattern: RegExp;
}

const RULES: readonly SecretRule[] = [
  {
    kind: "private_key",
    rule: "pem-private-key",
    label: "a PEM private key block",
    pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g,
  },
  {
    kind: "token",
    rule: "aws-access-key-id",
    label: "an AWS access key id",
    pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  },
  {
    kind: "token",
    rule: "github-token",
    label: "a GitHub token",
    pattern: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b/g,
  },
  {
    kind: "token",
    rule: "github-fine-grained-token",
    label: "a GitHub fine-grained token",
    pattern: /\bgithub_pat_[A-Za-z0-9_]{22,255}/g,
  },
  { kind: "token", rule: "slack-token", label: "a Slack token", pattern: /\bxox[baprs]-[A-Za-z0-9-]{10,}/g },
  { kind: "token", rule: "stripe-secret-key", label: "a Stripe secret key", pattern: /\b[sr]k_live_[0-9a-zA-Z]{24,}/g },
  { kind: "token", rule: "google-api-key", label: "a Google API key", pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  {
    kind: "token",
    rule: "jwt",
    label: "a JSON Web Token",
    pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g,
  },
];

const CHUNK = 1024 * 1024;
const OVERLAP = 4096;

function fingerprint(secret: string): string {
  return `sha256:${sha256Hex(secret).slice(0, 12)}`;
}

/** Scans one file's bytes for private keys and token shapes, streaming in overlapping chunks. */
async function scanContent(file: string, path: string, findings: LeakFinding[]): Promise<void> {
  const seen = new Set<string>();
  let carry = "";
  let carryStart = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
    // latin1 keeps one char per byte, so offsets are byte offsets and binary files are safe.
    const text = carry + (chunk as Buffer).toString("latin1");
    for (const rule of RULES) {
      for (const m of text.matchAll(rule.pattern)) {
        const offset = carryStart + m.index;
        const key = `${rule.rule}@${offset}`;
        if (seen.has(key)) continue;
        seen.add(key);
        findings.push({
          kind: rule.kind,
          path,
          rule: rule.rule,
          offset,
          fingerprint: fingerprint(m[0]),
          message: `${path} contains ${rule.label} at byte ${offset} (value redacted).`,
        });
      }
    }
    const keep = Math.min(OVERLAP, text.length);
    carryStart += text.length - keep;
    carry = text.slice(text.length - keep);
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
    if (node.type !== "file") continue;
    const abs = join(dir, node.path);
    if (isSetupAnswers(node.path)) await scanSetupAnswers(abs, node.path, findings);
    await scanContent(abs, node.path, findings);
  }
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
