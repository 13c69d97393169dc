import { GreenticError } from "@greentic/deploy-spec";

/**
 * Caps applied to every archive before (and while) it is extracted. All sizes are in bytes of
 * uncompressed content as the archive declares it; the extractor also counts what it really
 * writes, so an archive that lies about its sizes is caught too.
 */
export interface BundleLimits {
  /** Total uncompressed bytes of all regular files. Default 1 GiB. */
  maxTotalBytes: number;
  /** Number of entries (files, directories, links). Default 100 000. */
  maxEntries: number;
  /**
   * Uncompressed bytes divided by archive bytes. Default 100. Only checked once the content
   * exceeds `ratioFloorBytes`, because tiny archives legitimately have odd ratios.
   */
  maxRatio: number;
  /** Content size below which the ratio is not checked. Default 1 MiB. */
  ratioFloorBytes: number;
  /** Longest accepted entry path, in UTF-8 bytes. Default 1024. */
  maxPathBytes: number;
}

/** The documented defaults of {@link BundleLimits}. */
export const DEFAULT_BUNDLE_LIMITS: Readonly<BundleLimits> = Object.freeze({
  maxTotalBytes: 1024 * 1024 * 1024,
  maxEntries: 100_000,
  maxRatio: 100,
  ratioFloorBytes: 1024 * 1024,
  maxPathBytes: 1024,
});

/** Merges caller overrides over the defaults and rejects nonsense values. */
export function resolveLimits(overrides: Partial<BundleLimits> = {}): BundleLimits {
  const limits = { ...DEFAULT_BUNDLE_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_BUNDLE_LIMITS)) {
      throw new GreenticError("invalid-argument", `Unknown bundle limit "${key}".`, {
        path: `limits.${key}`,
        hint: `Use one of: ${Object.keys(DEFAULT_BUNDLE_LIMITS).join(", ")}.`,
      });
    }
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new GreenticError(
        "invalid-argument",
        `Bundle limit limits.${key} must be a positive number, got ${String(value)}.`,
        {
          path: `limits.${key}`,
          hint: "Pass a positive finite number or leave the limit out to use its default.",
        },
      );
    }
    (limits as Record<string, number>)[key] = value;
  }
  return limits;
}
