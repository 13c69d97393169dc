import { GreenticError, issuesError, parseDocument } from "@greentic/deploy-spec";
import { z } from "zod";
import { readText } from "./host-fs.js";

// The documents the single-VM adapter keeps (the state file on the VM, the env-pack handler's
// record), checked on every read through deploy-spec's one issues-to-error path: a damaged
// file is an `integrity` error naming it and the field, with kebab-case issue codes.

/** The `schema` of the state file on the VM. */
export const STATE_SCHEMA = "greentic.single-vm-state.v1";
/** The `schema` of a plan saved by `op single-vm plan --out`. */
export const PLAN_SCHEMA = "greentic.single-vm-plan.v1";
/** The `schema` of the env-pack handler's record. */
export const RECORD_SCHEMA = "greentic.single-vm-deployer.v1";

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: "must be sha256:<64 hex digits>" });

/** `state.json` on the VM: what the last apply or rollback left. */
export const SingleVmStateSchema = z.looseObject({
  schema: z.literal(STATE_SCHEMA),
  deployment: z.string().min(1),
  mode: z.enum(["native", "container"]),
  specDigest: z.string().min(1),
  bundleDigest: digest,
  previousBundleDigest: digest.optional(),
  runtimeDigest: z.string().optional(),
  unitHashes: z.record(z.string(), z.string()),
  lastResult: z.looseObject({
    action: z.enum(["apply", "rollback"]),
    ok: z.boolean(),
    at: z.string(),
    message: z.string().optional(),
  }),
});

/**
 * A saved plan, all but its embedded spec (checked as strictly as a spec file by `loadPlan`).
 * Apply trusts its actions and digests, so every field is checked.
 */
export const SavedPlanSchema = z.looseObject({
  schema: z.literal(PLAN_SCHEMA),
  deployment: z.string().min(1),
  mode: z.enum(["native", "container"]),
  spec: z.unknown(),
  specDigest: z.string().min(1),
  bundleDigest: digest,
  runtimeDigest: z.string().optional(),
  observedFingerprint: z.string().min(1),
  ociRuntime: z.string().optional(),
  pinnedBundle: z.boolean(),
  actions: z.array(
    z.looseObject({
      action: z.enum(["create", "update", "delete", "restart"]),
      resource: z.string().min(1),
      target: z.string().min(1),
      reason: z.string(),
    }),
  ),
  changes: z.boolean(),
  exitCode: z.union([z.literal(0), z.literal(2)]),
  summary: z.string(),
});

const revisionRef = z.looseObject({
  revision_id: z.string().min(1),
  deployment_id: z.string().min(1),
  bundle_id: z.string().min(1),
});

/** `single-vm-deployer.json` in the handler's data area. */
export const HandlerRecordSchema = z.looseObject({
  schema: z.literal(RECORD_SCHEMA),
  staged: z.record(
    z.string(),
    z.looseObject({
      deployment_id: z.string().min(1),
      bundle_id: z.string().min(1),
      digest,
      file: z.string().min(1),
      host: z.enum(["vm", "local"]),
    }),
  ),
  archived: z.record(z.string(), z.looseObject({ deployment_id: z.string(), bundle_id: z.string() })),
  active: revisionRef.nullable(),
  split: z
    .looseObject({
      deployment_id: z.string().min(1),
      bundle_id: z.string().min(1),
      entries: z.array(
        z.looseObject({ revision_id: z.string().min(1), weight_bps: z.number().int().min(0).max(10_000) }),
      ),
    })
    .nullable(),
});

/**
 * Parses and checks a stored document's text; `null` for no text (the file does not exist).
 * Malformed JSON or a document that does not match is `integrity` naming `file`.
 */
export function parseStored<S extends z.ZodType>(
  file: string,
  text: string | null,
  schema: S,
  hint: string,
): z.output<S> | null {
  if (text === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new GreenticError("integrity", `${file} is not valid JSON: ${(error as Error).message}`, {
      path: file,
      hint,
    });
  }
  const parsed = parseDocument(schema, data, { source: file });
  if (parsed.ok) return parsed.value;
  throw issuesError(parsed.issues, { kind: "integrity", source: file, hint });
}

/** The state file at `hostFile` (shown as `shownAs`), checked; `null` when there is none. */
export async function readStateFile(
  hostFile: string,
  shownAs: string,
): Promise<z.output<typeof SingleVmStateSchema> | null> {
  return parseStored(shownAs, await readText(hostFile), SingleVmStateSchema, "apply again to rewrite it");
}
