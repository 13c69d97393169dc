import { GreenticError, isGreenticError } from "@greentic/deploy-spec/documents";

/** What {@link checkBundleContent} learned about a bundle file that passed every check. */
export interface CheckedBundle {
  /** `sha256:<hex>` of the file's bytes: what a revision staged from it records as `bundle_digest`. */
  digest: string;
  /** The manifest's `bundle_id`. */
  bundle_id: string;
  /** The manifest's `version`. */
  version: string;
}

/**
 * Checks a bundle file's content the way staging will (manifest, content digest, safe
 * extraction, leak scan), on the user's own file and before anything is written, so that a
 * refused bundle leaves the store and the data area as they were and the error names the
 * path the user gave (`shownPath`), not a staged copy. Bad content is `validation` (exit 2).
 */
export async function checkBundleContent(
  file: string,
  shownPath: string,
  field = "bundle_path",
): Promise<CheckedBundle> {
  // Loaded here, not at top level: @greentic/bundle pulls tar and zip readers that read-only verbs never need.
  const { scanBundle, verifyBundle } = await import("@greentic/bundle");
  const refuse = (message: string, code: string, extra: Record<string, unknown> = {}) =>
    new GreenticError("validation", `${field}: bundle ${shownPath} ${message}`, {
      path: field,
      hint: "rebuild it with `op bundles build` (and check it with `op bundles verify`)",
      details: { code, bundle_path: shownPath, ...extra },
    });
  let verified;
  try {
    verified = await verifyBundle(file);
  } catch (error) {
    if (isGreenticError(error)) throw refuse(`cannot be read: ${error.message}`, "bundle-unreadable");
    throw error;
  }
  const first = verified.problems[0];
  if (!verified.ok || verified.manifest === undefined) {
    const more = verified.problems.length > 1 ? ` (+${verified.problems.length - 1} more problems)` : "";
    throw refuse(
      `is not a valid bundle: ${first?.message ?? "no manifest"}${more}`,
      first?.code ?? "manifest-invalid",
      { problems: verified.problems },
    );
  }
  const leaks = await scanBundle(file);
  if (!leaks.ok) {
    const finding = leaks.findings[0]!;
    throw refuse(
      `holds ${leaks.findings.length} likely secret(s); first: ${finding.kind} at ${finding.path}`,
      "leak-detected",
      { findings: leaks.findings.map(({ kind, path }) => ({ kind, path })) },
    );
  }
  return { digest: verified.imageDigest, bundle_id: verified.manifest.bundle_id, version: verified.manifest.version };
}
