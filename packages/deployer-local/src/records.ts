import { z } from "zod";

// The documents the local-process deployer keeps in its data areas, checked on every read
// (`readJsonDocument`): a hand-edited or truncated record is an `integrity` error naming the
// file, never a crash on a missing field. Loose objects: fields a later version adds are kept.

const port = z.number().int().min(1).max(65_535);
const pid = z.number().int().min(1);

/** `revisions/<revision_id>/stage.json`: written last, so its presence means "staged". */
export const StageRecordSchema = z.looseObject({
  revision_id: z.string().min(1),
  deployment_id: z.string().min(1),
  bundle_id: z.string().min(1),
  bundle_digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: "must be sha256:<64 hex digits>" }),
  staged_at: z.string(),
});
export type StageRecord = z.output<typeof StageRecordSchema>;

/** `processes/<revision_id>.json`: a running (or crashed) runtime. */
export const ProcessRecordSchema = z.looseObject({
  revision_id: z.string().min(1),
  deployment_id: z.string().min(1),
  pid,
  public_port: port.nullable(),
  admin_port: port.nullable(),
  started_at: z.string(),
  log: z.string(),
  runtime_bin: z.string().min(1),
  /** How the router's supervisor starts the runtime again after a crash. */
  launch: z
    .looseObject({
      argv: z.array(z.string()).min(1),
      env: z.record(z.string(), z.string()),
      cwd: z.string(),
      listen_file: z.string(),
    })
    .optional(),
  /** Restarts by the supervisor since the revision was warmed. */
  restarts: z.number().int().min(0).optional(),
  last_restart_at: z.string().optional(),
  /** Set by the supervisor while the process is gone and not yet restarted. */
  down_since: z.string().optional(),
});
export type ProcessRecord = z.output<typeof ProcessRecordSchema>;

/** `traffic/splits.json`: the applied split of each deployment. */
export const SplitsDocumentSchema = z.looseObject({
  schema: z.literal("greentic.local-process.splits.v1"),
  splits: z.record(
    z.string(),
    z.looseObject({
      bundle_id: z.string(),
      generation: z.number().int().min(0).optional(),
      /** The deployment's route binding as last applied (absent: any host, every path). */
      route: z.object({ hosts: z.array(z.string()), path_prefixes: z.array(z.string()) }).optional(),
      entries: z.array(
        z.looseObject({ revision_id: z.string().min(1), weight_bps: z.number().int().min(0).max(10_000) }),
      ),
    }),
  ),
});
export type SplitsDocument = z.output<typeof SplitsDocumentSchema>;

/** `router/router.json`: the router process the deployer started. */
export const RouterRecordSchema = z.looseObject({
  pid,
  router_bin: z.string().min(1),
  state_dir: z.string().min(1),
  listen: z.string(),
  /** The deployer's process records, which the router supervises. */
  processes_dir: z.string().optional(),
  /** The store's runtime-config.json the router converges to (drift repair). */
  desired_file: z.string().optional(),
  port: z.number().int().min(0).max(65_535).nullable(),
  started_at: z.string(),
  log: z.string(),
});
