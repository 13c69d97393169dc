import { chmod, copyFile, constants, mkdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { archiveSize, extractBundle } from "./extract.js";
import type { BundleLimits } from "./limits.js";
import { type BundleManifest, contentDigest, describeTree, MANIFEST_FILE, parseManifest } from "./manifest.js";
import { type LeakFinding, scanArchiveBytes, scanDirectory } from "./scan.js";
import { sha256File } from "./tools.js";
import { walkTree } from "./walk.js";

/** Options of {@link stageBundle}. */
export interface StageBundleOptions {
  limits?: Partial<BundleLimits> | undefined;
  /** Refuse unless the staged copy has this `sha256:<hex>` digest. */
  expectedDigest?: string | undefined;
  /** Stage even when the leak scanner has findings (they are returned). Default false. */
  allowLeaks?: boolean | undefined;
}

/** A bundle staged into a revision directory. */
export interface StagedBundle {
  /** `sha256:<hex>` of the staged copy: the revision's `bundle_digest`. */
  digest: string;
  manifest: BundleManifest;
  /** `revisionDir/bundle`: extracted, read-only content (files 0444, directories 0555). */
  bundleDir: string;
  /** `revisionDir/bundle.gtbundle`: the staged copy of the image (0444). */
  imagePath: string;
  findings: LeakFinding[];
}

/**
 * Stages a `.gtbundle` into `revisionDir`: copies the input to `bundle.gtbundle` FIRST, then
 * hashes and extracts that copy, so the digest always describes the bytes that were unpacked
 * (no swap between hash and use). Checks the manifest and content digest, scans for leaks
 * (refusing unless `allowLeaks`), and leaves the content read-only. On failure nothing it
 * created is left behind.
 */
export async function stageBundle(
  inputPath: string,
  revisionDir: string,
  options: StageBundleOptions = {},
): Promise<StagedBundle> {
  await archiveSize(inputPath);
  const dir = resolve(revisionDir);
  const imagePath = join(dir, "bundle.gtbundle");
  const bundleDir = join(dir, "bundle");
  await mkdir(dir, { recursive: true });
  try {
    await copyFile(inputPath, imagePath, constants.COPYFILE_EXCL);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    throw new GreenticError("conflict", `Revision directory ${dir} already holds a staged bundle.`, {
      path: imagePath,
      hint: "Stage each revision into a fresh directory.",
    });
  }
  let extracted = false;
  try {
    await chmod(imagePath, 0o444);
    const digest = await sha256File(imagePath);
    if (options.expectedDigest !== undefined && options.expectedDigest !== digest) {
      throw new GreenticError(
        "integrity",
        `Bundle ${inputPath} has digest ${digest}, expected ${options.expectedDigest}.`,
        {
          path: inputPath,
          hint: "The bundle changed since its digest was recorded; fetch the right bundle or record the new digest.",
          details: { code: "digest-mismatch", digest, expected: options.expectedDigest },
        },
      );
    }
    await extractBundle(imagePath, bundleDir, options.limits);
    extracted = true;
    const manifestBytes = await readFile(join(bundleDir, MANIFEST_FILE)).catch(() => {
      throw new GreenticError("validation", `Bundle ${inputPath} has no ${MANIFEST_FILE} at its root.`, {
        path: MANIFEST_FILE,
        hint: "Build bundles with buildBundle / `op bundles build`, which writes the manifest.",
        details: { code: "manifest-missing" },
      });
    });
    const manifest = parseManifest(manifestBytes, `Bundle ${inputPath}`);
    const actual = contentDigest(await describeTree(bundleDir));
    if (actual !== manifest.content_digest) {
      throw new GreenticError(
        "integrity",
        `Bundle ${inputPath}: content digest is ${actual}, the manifest records ${manifest.content_digest}.`,
        {
          path: MANIFEST_FILE,
          hint: "The bundle's content does not match its manifest; rebuild it.",
          details: { code: "content-digest-mismatch", actual, expected: manifest.content_digest },
        },
      );
    }
    const findings = [
      ...(await scanArchiveBytes(imagePath, "bundle.gtbundle")),
      ...(await scanDirectory(bundleDir)).findings,
    ];
    if (findings.length > 0 && options.allowLeaks !== true) {
      throw new GreenticError(
        "validation",
        `Bundle ${inputPath}: ${findings.length} leak finding(s); first: ${findings[0]!.kind} at ${findings[0]!.path}.`,
        {
          path: findings[0]!.path,
          hint: "Rebuild the bundle without secrets, or stage with allowLeaks to accept them.",
          details: { code: "leak-detected", findings },
        },
      );
    }
    await makeReadOnly(bundleDir);
    return { digest, manifest, bundleDir, imagePath, findings };
  } catch (error) {
    // extractBundle renames into place only on success, so bundleDir is ours only after that.
    if (extracted) await rm(bundleDir, { recursive: true, force: true });
    await rm(imagePath, { force: true });
    throw error;
  }
}

/** Files 0444, directories 0555 (deepest first so parents stay writable until the end). */
async function makeReadOnly(root: string): Promise<void> {
  const nodes = await walkTree(root);
  for (const node of nodes.reverse()) {
    if (node.type === "file") await chmod(join(root, node.path), 0o444);
    else if (node.type === "dir") await chmod(join(root, node.path), 0o555);
  }
  await chmod(root, 0o555);
}
