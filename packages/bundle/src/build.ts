import { chmod, copyFile, lstat, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { GreenticError, prettyJson } from "@greentic/deploy-spec";
import {
  BUNDLE_ID,
  BUNDLE_MANIFEST_SCHEMA,
  type BundleManifest,
  contentDigest,
  describeTree,
  isSemver,
  MANIFEST_FILE,
} from "./manifest.js";
import { EntryChecker, type RawEntryType } from "./entries.js";
import { type BundleLimits, resolveLimits } from "./limits.js";
import { type LeakFinding, scanArchiveBytes, scanDirectory } from "./scan.js";
import { runTool, sha256File } from "./tools.js";
import { walkTree } from "./walk.js";

/** Options of {@link buildBundle}. */
export interface BuildBundleOptions {
  /** Directory holding the bundle's content. Must not contain `bundle-manifest.json` at its root. */
  sourceDir: string;
  /** Where to write the `.gtbundle`; replaced atomically if it exists. */
  outFile: string;
  /** Bundle id: letters, digits, `.`, `_`, `-`, up to 128 characters. */
  bundleId: string;
  /** Semantic version of this bundle build. */
  version: string;
  /**
   * RFC 3339 creation time recorded in the manifest and used for every timestamp in the image.
   * Default: `SOURCE_DATE_EPOCH` when set, else the Unix epoch, so rebuilds are byte-identical.
   */
  createdAt?: string | undefined;
  /** Build even when the leak scanner has findings (they are returned). Default false. */
  allowLeaks?: boolean | undefined;
  /**
   * The limits staging will apply (defaults: {@link DEFAULT_BUNDLE_LIMITS}). The build refuses
   * a source that would make a bundle staging refuses: too many entries, too many bytes, a path
   * too long, a symlink leaving the tree, a special file, or too high a compression ratio.
   */
  limits?: Partial<BundleLimits> | undefined;
}

/** What {@link buildBundle} produced. */
export interface BuildBundleResult {
  outFile: string;
  /** `sha256:<hex>` of the image bytes: what revisions record as `bundle_digest`. */
  digest: string;
  size: number;
  manifest: BundleManifest;
  /** Leak findings (only non-empty when `allowLeaks` was set). */
  findings: LeakFinding[];
}

// Pinned so the image bytes do not depend on squashfs-tools defaults or the machine's CPUs.
const MKSQUASHFS_FLAGS = [
  "-noappend",
  "-no-xattrs",
  "-all-root",
  "-comp",
  "gzip",
  "-b",
  "131072",
  "-processors",
  "1",
  "-no-progress",
  "-quiet",
];

function resolveCreatedAt(createdAt: string | undefined): { iso: string; seconds: number } {
  let ms: number;
  if (createdAt !== undefined) {
    ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/.test(createdAt)
      ? Date.parse(createdAt)
      : Number.NaN;
    if (Number.isNaN(ms)) {
      throw new GreenticError(
        "invalid-argument",
        `createdAt ${JSON.stringify(createdAt)} is not an RFC 3339 timestamp.`,
        {
          path: "createdAt",
          hint: 'Use a timestamp such as "2026-05-20T12:00:00Z".',
        },
      );
    }
  } else {
    const env = process.env.SOURCE_DATE_EPOCH;
    if (env !== undefined && env !== "" && !/^\d+$/.test(env)) {
      throw new GreenticError(
        "invalid-argument",
        `SOURCE_DATE_EPOCH=${JSON.stringify(env)} is not a whole number of seconds.`,
        {
          path: "SOURCE_DATE_EPOCH",
          hint: "Set SOURCE_DATE_EPOCH to Unix seconds (e.g. `git log -1 --format=%ct`) or unset it.",
        },
      );
    }
    ms = env ? Number(env) * 1000 : 0;
  }
  const seconds = Math.floor(ms / 1000);
  if (seconds < 0 || seconds > 0xffffffff) {
    throw new GreenticError(
      "invalid-argument",
      `createdAt ${createdAt ?? `SOURCE_DATE_EPOCH=${process.env.SOURCE_DATE_EPOCH}`} is outside 1970..2106, which squashfs cannot record.`,
      {
        path: "createdAt",
        hint: "Pick a time between 1970-01-01 and 2106-02-07.",
      },
    );
  }
  return { iso: new Date(seconds * 1000).toISOString().replace(".000Z", "Z"), seconds };
}

/**
 * Copies the source into `dest` with normalised permissions (files 0644, or 0755 when any
 * execute bit is set; directories 0755), so the image does not depend on the checkout's umask.
 */
async function copyNormalised(src: string, dest: string): Promise<void> {
  await mkdir(dest, { mode: 0o755 });
  for (const node of await walkTree(src)) {
    const to = join(dest, node.path);
    if (node.type === "dir") await mkdir(to, { mode: 0o755 });
    else if (node.type === "symlink") await symlink(node.target!, to);
    else if (node.type === "file") {
      await copyFile(join(src, node.path), to);
      await chmod(to, node.mode & 0o111 ? 0o755 : 0o644);
    } else {
      throw new GreenticError(
        "validation",
        `${join(src, node.path)} is a ${node.type} node; bundles hold files, directories and symlinks only.`,
        {
          path: node.path,
          hint: "Remove device, FIFO and socket nodes from the bundle source.",
          details: { code: "special-file" },
        },
      );
    }
  }
  await chmod(dest, 0o755);
}

function leakError(what: string, findings: LeakFinding[]): GreenticError {
  const first = findings[0]!;
  return new GreenticError(
    "validation",
    `${what}: ${findings.length} leak finding(s); first: ${first.kind} at ${first.path}.`,
    {
      path: first.path,
      hint: "Remove the secrets from the bundle source (dev-store files, populated setup answers, keys, tokens), or pass allowLeaks to build anyway.",
      details: { code: "leak-detected", findings },
    },
  );
}

/**
 * Builds a deterministic `.gtbundle`: the same source, id, version and time give a
 * byte-identical image. Refuses special files, symlinks leaving the source, and (unless
 * `allowLeaks`) anything the leak scanner finds.
 */
export async function buildBundle(options: BuildBundleOptions): Promise<BuildBundleResult> {
  const { bundleId, version } = options;
  if (typeof bundleId !== "string" || !BUNDLE_ID.test(bundleId)) {
    throw new GreenticError("invalid-argument", `bundleId ${JSON.stringify(bundleId)} is not a valid bundle id.`, {
      path: "bundleId",
      hint: "Use letters, digits, '.', '_' and '-' (starting with a letter or digit), at most 128 characters.",
    });
  }
  if (typeof version !== "string" || !isSemver(version)) {
    throw new GreenticError("invalid-argument", `version ${JSON.stringify(version)} is not a semantic version.`, {
      path: "version",
      hint: 'Use a version such as "1.0.0" or "1.2.0-rc.1".',
    });
  }
  const created = resolveCreatedAt(options.createdAt);
  const sourceDir = resolve(options.sourceDir);
  const outFile = resolve(options.outFile);
  const st = await lstat(sourceDir).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) {
    throw new GreenticError(
      st === undefined ? "not-found" : "invalid-argument",
      `Bundle source ${sourceDir} ${st === undefined ? "does not exist" : "is not a directory"}.`,
      {
        path: sourceDir,
        hint: "Pass the directory holding the bundle's files as sourceDir.",
      },
    );
  }
  const reserved = await lstat(join(sourceDir, MANIFEST_FILE)).catch(() => undefined);
  if (reserved !== undefined) {
    throw new GreenticError(
      "invalid-argument",
      `Bundle source ${sourceDir} already contains ${MANIFEST_FILE}, a name the build reserves.`,
      {
        path: join(sourceDir, MANIFEST_FILE),
        hint: `Remove ${MANIFEST_FILE} from the source; buildBundle writes it.`,
      },
    );
  }

  // Staging's checks, run over the source before anything is copied (a 5 GiB sparse file is
  // refused by its size, not read). The image root and the manifest count as entries, as
  // the lister of the staging side sees them.
  const limits = resolveLimits(options.limits);
  const checker = new EntryChecker(sourceDir, limits, 0);
  checker.add({ path: ".", type: "dir", size: 0, mode: 0o755 });
  for (const node of await walkTree(sourceDir)) {
    checker.add({
      path: node.path,
      type: node.type as RawEntryType,
      size: node.size,
      mode: node.mode,
      linkTarget: node.target,
    });
  }
  checker.add({ path: MANIFEST_FILE, type: "file", size: 0, mode: 0o644 });

  await mkdir(dirname(outFile), { recursive: true });
  const work = await mkdtemp(join(dirname(outFile), `.${basename(outFile)}.build-`));
  try {
    const tree = join(work, "tree");
    await copyNormalised(sourceDir, tree);
    const entries = await describeTree(tree);
    const findings = (await scanDirectory(tree)).findings;
    if (findings.length > 0 && options.allowLeaks !== true) throw leakError(`Bundle source ${sourceDir}`, findings);

    const manifest: BundleManifest = {
      schema: BUNDLE_MANIFEST_SCHEMA,
      bundle_id: bundleId,
      version,
      created_at: created.iso,
      content_digest: contentDigest(entries),
      entries,
    };
    if (entries.some((e) => e.path === "index.html" && e.type === "file"))
      manifest.entry = { kind: "static", index: "index.html" };
    const manifestText = prettyJson(manifest);
    checker.addBytes(Buffer.byteLength(manifestText), MANIFEST_FILE);
    await writeFile(join(tree, MANIFEST_FILE), manifestText, { mode: 0o644 });
    await chmod(join(tree, MANIFEST_FILE), 0o644);

    const image = join(work, "bundle.gtbundle");
    const time = String(created.seconds);
    const result = await runTool(
      "mksquashfs",
      [tree, image, ...MKSQUASHFS_FLAGS, "-mkfs-time", time, "-all-time", time],
      1024 * 1024,
    );
    if (result.code !== 0) {
      throw new GreenticError("io", `mksquashfs failed for ${sourceDir}: ${result.stderr || `exit ${result.code}`}`, {
        path: sourceDir,
        hint: "Check free disk space and that squashfs-tools is installed.",
      });
    }
    // The ratio can only be known now; staging would refuse an image above it.
    new EntryChecker(outFile, limits, (await lstat(image)).size).checkRatio(checker.totalBytes, undefined);
    const rawFindings = await scanArchiveBytes(image, outFile);
    if (rawFindings.length > 0 && options.allowLeaks !== true)
      throw leakError(`Bundle image for ${sourceDir}`, rawFindings);
    findings.push(...rawFindings);
    await chmod(image, 0o644);
    await rename(image, outFile);
    const { size } = await lstat(outFile);
    return { outFile, digest: await sha256File(outFile), size, manifest, findings };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
