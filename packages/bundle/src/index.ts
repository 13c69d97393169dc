export { buildBundle, type BuildBundleOptions, type BuildBundleResult } from "./build.js";
export {
  EntryChecker,
  REJECTION_CODES,
  symlinkEscape,
  type CheckedEntry,
  type RawEntry,
  type RawEntryType,
  type RejectionCode,
} from "./entries.js";
export {
  detectFormat,
  extractArchive,
  extractBundle,
  type ArchiveFormat,
  type ExtractOptions,
  type ExtractResult,
} from "./extract.js";
export { inspectBundle, type BundleInspection } from "./inspect.js";
export { DEFAULT_BUNDLE_LIMITS, resolveLimits, type BundleLimits } from "./limits.js";
export {
  BUNDLE_MANIFEST_SCHEMA,
  MANIFEST_FILE,
  contentDigest,
  parseManifest,
  validateManifest,
  type BundleEntry,
  type BundleEntryPoint,
  type BundleManifest,
} from "./manifest.js";
export {
  isDevStorePath,
  scanArchiveBytes,
  scanBundle,
  scanDirectory,
  type LeakFinding,
  type LeakKind,
  type LeakReport,
} from "./scan.js";
export { stageBundle, type StageBundleOptions, type StagedBundle } from "./stage.js";
export { verifyBundle, type VerifyBundleOptions, type VerifyBundleResult, type VerifyProblem } from "./verify.js";
