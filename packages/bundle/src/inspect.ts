import { GreenticError } from "@greentic/deploy-spec";
import { type CheckedEntry, EntryChecker } from "./entries.js";
import { archiveSize } from "./extract.js";
import { type BundleLimits, resolveLimits } from "./limits.js";
import { type BundleManifest, MANIFEST_FILE, parseManifest } from "./manifest.js";
import { catSquashfs, listSquashfs, sha256File } from "./tools.js";

/** What {@link inspectBundle} reports about a `.gtbundle`, without mounting or extracting it. */
export interface BundleInspection {
  file: string;
  /** `sha256:<hex>` of the image bytes. */
  imageDigest: string;
  imageSize: number;
  manifest: BundleManifest;
  /** Every entry of the image (the manifest included), checked by the same rules as extraction. */
  entries: CheckedEntry[];
  /** Sum of file sizes. */
  totalBytes: number;
}

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * Lists a `.gtbundle` and reads its manifest with `unsquashfs -lln` / `-cat` (no mount, no
 * extraction). Hostile entries are rejected exactly as extraction would reject them.
 */
export async function inspectBundle(file: string, limits?: Partial<BundleLimits>): Promise<BundleInspection> {
  const size = await archiveSize(file);
  const imageDigest = await sha256File(file);
  const checker = new EntryChecker(file, resolveLimits(limits), size);
  const entries: CheckedEntry[] = [];
  for (const raw of await listSquashfs(file)) {
    const e = checker.add(raw);
    if (e !== null) entries.push(e);
  }
  const manifestEntry = entries.find((e) => e.path === MANIFEST_FILE);
  if (manifestEntry === undefined || manifestEntry.type !== "file") {
    throw new GreenticError("validation", `Bundle ${file} has no ${MANIFEST_FILE} file at its root.`, {
      path: file,
      hint: "Build bundles with buildBundle / `op bundles build`, which writes the manifest.",
      details: { code: "manifest-missing" },
    });
  }
  if (manifestEntry.size > MAX_MANIFEST_BYTES) {
    throw new GreenticError(
      "validation",
      `Bundle ${file}: ${MANIFEST_FILE} is ${manifestEntry.size} bytes, over ${MAX_MANIFEST_BYTES}.`,
      {
        path: MANIFEST_FILE,
        hint: "The manifest is suspiciously large; rebuild the bundle.",
        details: { code: "manifest-invalid" },
      },
    );
  }
  const manifest = parseManifest(await catSquashfs(file, MANIFEST_FILE, MAX_MANIFEST_BYTES), `Bundle ${file}`);
  return { file, imageDigest, imageSize: size, manifest, entries, totalBytes: checker.totalBytes };
}
