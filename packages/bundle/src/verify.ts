import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalJson, GreenticError, isGreenticError } from "@greentic/deploy-spec";
import { archiveSize, extractBundle } from "./extract.js";
import type { BundleLimits } from "./limits.js";
import {
  type BundleEntry,
  type BundleManifest,
  contentDigest,
  describeTree,
  MANIFEST_FILE,
  parseManifest,
} from "./manifest.js";
import { sha256File } from "./tools.js";

/** One thing {@link verifyBundle} found wrong. */
export interface VerifyProblem {
  /** Stable code: `digest-mismatch`, `content-digest-mismatch`, `entries-mismatch`, `manifest-invalid`, or an extraction rejection code. */
  code: string;
  message: string;
  /** Path inside the bundle, when the problem is about one entry. */
  path?: string;
}

/** Options of {@link verifyBundle}. */
export interface VerifyBundleOptions {
  /** The `sha256:<hex>` the image must have (e.g. a revision's `bundle_digest`). */
  expectedDigest?: string | undefined;
  limits?: Partial<BundleLimits> | undefined;
}

/** Outcome of {@link verifyBundle}: data, not an exception, so callers can print every problem. */
export interface VerifyBundleResult {
  ok: boolean;
  /** `sha256:<hex>` of the image bytes. */
  imageDigest: string;
  /** Content digest recomputed from the extracted files (absent if extraction failed). */
  contentDigest?: string;
  manifest?: BundleManifest;
  problems: VerifyProblem[];
}

function firstDifference(a: readonly BundleEntry[], b: readonly BundleEntry[]): string | undefined {
  const len = Math.max(a.length, b.length);
  for (let i = 0; i < len; i++) {
    if (canonicalJson(a[i]) !== canonicalJson(b[i])) return (a[i] ?? b[i])?.path;
  }
  return undefined;
}

/**
 * Verifies a `.gtbundle`: the image digest (against `expectedDigest` if given), the manifest's
 * schema, and the content digest recomputed from an extraction into a private temp directory.
 * Throws only when the file cannot be read at all.
 */
export async function verifyBundle(file: string, options: VerifyBundleOptions = {}): Promise<VerifyBundleResult> {
  if (options.expectedDigest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(options.expectedDigest)) {
    throw new GreenticError(
      "invalid-argument",
      `expectedDigest ${JSON.stringify(options.expectedDigest)} is not sha256:<64 lowercase hex>.`,
      {
        path: "expectedDigest",
        hint: "Pass the bundle_digest recorded by the revision, e.g. sha256:0123...",
      },
    );
  }
  await archiveSize(file);
  const imageDigest = await sha256File(file);
  const problems: VerifyProblem[] = [];
  if (options.expectedDigest !== undefined && options.expectedDigest !== imageDigest) {
    problems.push({
      code: "digest-mismatch",
      message: `Image digest is ${imageDigest}, expected ${options.expectedDigest}.`,
    });
  }
  const tmp = await mkdtemp(join(tmpdir(), "greentic-verify-"));
  const result: VerifyBundleResult = { ok: false, imageDigest, problems };
  try {
    const { destDir } = await extractBundle(file, join(tmp, "content"), options.limits);
    const entries = await describeTree(destDir);
    result.contentDigest = contentDigest(entries);
    let manifest: BundleManifest | undefined;
    try {
      const bytes = await readFile(join(destDir, MANIFEST_FILE)).catch(() => {
        throw new GreenticError("validation", `Bundle ${file} has no ${MANIFEST_FILE} at its root.`, {
          path: MANIFEST_FILE,
        });
      });
      manifest = parseManifest(bytes, `Bundle ${file}`);
      result.manifest = manifest;
    } catch (error) {
      if (!isGreenticError(error)) throw error;
      problems.push({ code: "manifest-invalid", message: error.message, path: MANIFEST_FILE });
    }
    if (manifest !== undefined) {
      if (manifest.content_digest !== result.contentDigest) {
        problems.push({
          code: "content-digest-mismatch",
          message: `Content digest is ${result.contentDigest}, the manifest records ${manifest.content_digest}.`,
        });
      }
      if (contentDigest(manifest.entries) !== manifest.content_digest) {
        problems.push({
          code: "entries-mismatch",
          message: "The manifest's entries do not hash to its own content_digest.",
        });
      }
      const differs = firstDifference(entries, manifest.entries);
      if (differs !== undefined) {
        problems.push({
          code: "entries-mismatch",
          message: `Entry ${JSON.stringify(differs)} differs between the content and the manifest.`,
          path: differs,
        });
      }
    }
  } catch (error) {
    if (!isGreenticError(error)) throw error;
    const code = typeof error.details?.code === "string" ? error.details.code : error.kind;
    problems.push({
      code,
      message: error.message,
      ...(typeof error.details?.entry === "string" ? { path: error.details.entry } : {}),
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  result.ok = problems.length === 0;
  return result;
}
