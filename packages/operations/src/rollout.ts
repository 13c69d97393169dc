import { randomBytes } from "node:crypto";
import { open, readdir, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import {
  canTransition,
  GreenticError,
  isGreenticError,
  transitionRevision,
  type Environment,
} from "@greentic/deploy-spec/documents";
import type { Deployer, HandlerContext, RevisionMetricsReport } from "@greentic/env-packs";
import { ulid } from "ulid";
import { checkEnvArgument, mutate, progress, type OperationsContext } from "./context.js";
import { deployerOf } from "./lookups.js";
import { resolveRevisionRef } from "./refs.js";
import { trafficSet } from "./traffic.js";
import type { MutationOptions } from "./types.js";

export const ROLLOUT_SCHEMA = "greentic.rollout.v1";

/** What `op rollout start` asks for (as typed: parsed and checked by {@link rolloutStart}). */
export interface RolloutStartInput {
  environment_id: string;
  /** The candidate revision: an id, a unique prefix, @N, latest, previous. */
  to: string;
  /** Steps in percent (`1,5,25,50,100`): increasing, above 0, the last one 100. */
  steps: string;
  /** Bake time at each step: `90s`, `2m`, `1h`, `500ms`. */
  interval: string;
  /** Highest tolerated 5xx share of the candidate's requests: `1%` or `0.01`. */
  max_error_rate: string;
  /** Highest tolerated p99 of the candidate's requests: `800ms`, `2s`. */
  max_p99?: string | undefined;
  /** The caller runs the rollout itself (`--foreground`): the deployer need not supervise a runner. */
  foreground?: boolean | undefined;
}

/** The figures of one check of the candidate. */
export type RolloutFigures = RevisionMetricsReport & { ready: boolean | null; ready_detail?: string };

/** `greentic.rollout.v1`: a progressive rollout, kept in the environment's data area. */
export interface RolloutRecord {
  schema: typeof ROLLOUT_SCHEMA;
  rollout_id: string;
  env_id: string;
  deployment_id: string;
  stable_revision_id: string;
  candidate_revision_id: string;
  /** Candidate weight of each step, basis points. */
  steps_bps: number[];
  interval_ms: number;
  max_error_rate: number;
  max_p99_ms: number | null;
  status: "running" | "paused" | "succeeded" | "failed" | "aborted";
  /** Index of the current step. */
  step_index: number;
  /** Index of the step whose split is committed and live (-1: none yet). */
  applied_step: number;
  /** When the current step's split went live (its bake time and its figures start there). */
  step_started_at: string | null;
  /** HAProxy's counters for the candidate when the current step went live: its figures are the difference. */
  step_counters?: { requests: number; errors_5xx: number } | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  /** Failed or aborted: whether all traffic is back on the stable revision (the runner finishes it after a crash). */
  traffic_restored: boolean;
  /** One entry per baked step: what the rollout measured of the candidate. */
  measurements: Array<{ step_bps: number; at: string } & RolloutFigures>;
  failure: { reason: string; step_bps: number; at: string; figures: RolloutFigures | null } | null;
}

const TERMINAL = new Set<RolloutRecord["status"]>(["succeeded", "failed", "aborted"]);
/** A verdict on the error rate or p99 needs evidence: fewer candidate requests judge nothing. */
export const MIN_REQUESTS = 20;
/** Readiness checks in a row that must fail before the rollout aborts (one per poll). */
export const UNREADY_CHECKS = 3;

function invalid(path: string, message: string, hint: string): GreenticError {
  return new GreenticError("invalid-argument", message, { path, hint });
}

/** `1,5,25,50,100` to basis points; refused unless increasing, within 0 (exclusive) to 100, ending at 100. */
export function parseSteps(text: string): number[] {
  const hint = "give percent steps in increasing order ending at 100, e.g. --steps 1,5,25,50,100";
  const parts = text.split(",").map((p) => p.trim());
  const bps = parts.map((p) => {
    const m = /^(\d{1,3}(?:\.\d{1,2})?)%?$/.exec(p);
    if (!m) throw invalid("steps", `--steps ${text}: ${JSON.stringify(p)} is not a percentage`, hint);
    return Math.round(Number(m[1]) * 100);
  });
  bps.forEach((b, i) => {
    if (b <= 0 || b > 10_000)
      throw invalid("steps", `--steps ${text}: ${parts[i]} is outside 0 (exclusive) to 100`, hint);
    if (i > 0 && b <= bps[i - 1]!)
      throw invalid(
        "steps",
        `--steps ${text}: ${parts[i]} does not come after ${parts[i - 1]} (steps must increase)`,
        hint,
      );
  });
  if (bps.at(-1) !== 10_000) throw invalid("steps", `--steps ${text}: the last step must be 100`, hint);
  return bps;
}

/** `90s`, `2m`, `1h`, `500ms` to milliseconds (above 0, at most a day). */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  const hint = "give a number with ms, s, m or h, e.g. 2m or 800ms";
  if (!m) throw invalid(flag, `--${flag} ${text}: not a duration`, hint);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  const ms = Math.round(Number(m[1]) * unit);
  if (ms <= 0 || ms > 86_400_000) throw invalid(flag, `--${flag} ${text}: must be above 0 and at most 24h`, hint);
  return ms;
}

/** `1%` or `0.01` to a fraction in 0..1. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  const value = m ? (m[2] === "%" ? Number(m[1]) / 100 : Number(m[1])) : Number.NaN;
  if (!(value >= 0 && value <= 1))
    throw invalid(
      "max-error-rate",
      `--max-error-rate ${text}: not a rate between 0 and 100%`,
      "give a percentage such as 1% or a fraction such as 0.01",
    );
  return value;
}

async function rolloutsDir(ctx: OperationsContext, envId: string): Promise<string> {
  return ctx.store.dataDir(envId, "rollouts");
}

async function writeRecord(ctx: OperationsContext, record: RolloutRecord): Promise<void> {
  const dir = await rolloutsDir(ctx, record.env_id);
  const file = join(dir, `${record.rollout_id}.json`);
  const tmp = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  record.updated_at = new Date().toISOString();
  const handle = await open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** One rollout's record; `not-found` for an unknown id, `integrity` for a damaged file. */
export async function readRollout(ctx: OperationsContext, envId: string, rolloutId: string): Promise<RolloutRecord> {
  const id = checkEnvArgument(envId);
  const upper = rolloutId.toUpperCase();
  if (!ULID.test(upper))
    throw invalid(
      "rollout",
      `rollout id ${JSON.stringify(rolloutId)} is not a ULID`,
      `list them with \`op rollout status ${id}\``,
    );
  const file = join(await rolloutsDir(ctx, id), `${upper}.json`);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new GreenticError("not-found", `rollout ${upper} does not exist in environment ${id}`, {
        path: "rollout",
        hint: `list them with \`op rollout status ${id}\``,
      });
    throw error;
  }
  let record: RolloutRecord | undefined;
  try {
    record = JSON.parse(text) as RolloutRecord;
  } catch {
    record = undefined;
  }
  if (record?.schema !== ROLLOUT_SCHEMA || record.rollout_id !== upper || !Array.isArray(record.steps_bps))
    throw new GreenticError("integrity", `rollout record ${file} is damaged`, {
      hint: "the rollout's audit events (`op audit list`) say what it did; remove the file to forget it",
    });
  return record;
}

/** Every rollout of the environment, newest first. */
export async function listRollouts(ctx: OperationsContext, envId: string): Promise<RolloutRecord[]> {
  const id = checkEnvArgument(envId);
  await ctx.store.load(id);
  const names = (await readdir(await rolloutsDir(ctx, id)))
    .filter((n) => /^[0-9A-Z]{26}\.json$/.test(n))
    .sort()
    .reverse();
  return Promise.all(names.map((n) => readRollout(ctx, id, n.slice(0, 26))));
}

/** The environment's newest rollout; `not-found` when it has none. */
async function newestRollout(ctx: OperationsContext, envId: string): Promise<RolloutRecord> {
  const newest = (await listRollouts(ctx, envId))[0];
  if (newest === undefined)
    throw new GreenticError("not-found", `environment ${envId} has no rollout`, {
      hint: `start one with \`op rollout start ${envId} --to REVISION\``,
    });
  return newest;
}

/**
 * One change of a rollout's record, read and written under the environment's lock (the store's
 * mutation) and audited as `rollout <verb>`, so that `op rollout pause` and the runner never
 * overwrite each other. `change` leaves the record as it is when the rollout has moved on (the
 * event is still written, with the record's status).
 */
async function transition(
  ctx: OperationsContext,
  envId: string,
  rolloutId: string,
  verb: string,
  change: (r: RolloutRecord) => void,
  extra: Record<string, unknown> = {},
  alsoEnvironment?: (env: Environment, record: RolloutRecord, now: string) => Record<string, unknown> | undefined,
): Promise<RolloutRecord> {
  const { result } = await mutate(ctx, {
    envId,
    noun: "rollout",
    verb,
    payload: { rollout_id: rolloutId, verb },
    options: {},
    transform: async (current, tx) => {
      const environment = structuredClone(current as Environment);
      const record = await readRollout(ctx, envId, rolloutId);
      change(record);
      // In the same commit as the record's change, under the same lock and audit event.
      const more = alsoEnvironment?.(environment, record, tx.now) ?? {};
      await writeRecord(ctx, record);
      return {
        environment,
        result: record,
        target: {
          rollout_id: record.rollout_id,
          deployment_id: record.deployment_id,
          stable_revision_id: record.stable_revision_id,
          candidate_revision_id: record.candidate_revision_id,
          status: record.status,
          step_bps: record.steps_bps[record.step_index],
          ...extra,
          ...more,
        },
      };
    },
  });
  return result;
}

/** The deployer of the environment, which must report per-revision figures for a rollout. */
async function rolloutDeployer(
  ctx: OperationsContext,
  environment: Environment,
): Promise<{ deployer: Deployer; hctx: HandlerContext }> {
  const { deployer, hctx } = await deployerOf(ctx, environment);
  if (deployer.revisionMetrics === undefined)
    throw new GreenticError(
      "precondition-failed",
      `environment ${environment.environment_id}'s deployer reports no per-revision figures, so a rollout cannot judge a candidate`,
      {
        hint: "progressive rollouts run on the single-VM deployer with spec.rollout.strategy: canary; elsewhere move traffic with `op traffic set`",
        details: { code: "rollout-unsupported" },
      },
    );
  return { deployer, hctx };
}

/** Result of `op rollout start`. */
export interface RolloutStartResult {
  rollout: RolloutRecord;
  /** `replayed` when an earlier start with the same idempotency key answered. */
  idempotency: "applied" | "replayed";
}

/**
 * `op rollout start`: checks everything before anything changes (steps, interval, limits, the
 * candidate a ready revision whose deployment has another revision taking traffic, a deployer
 * that measures per revision, no other rollout in progress in the environment: conflict naming
 * it), then records the rollout (`running`, nothing applied yet) and audits it. The split is
 * not touched here: the runner applies the first step. A retry with the same idempotency key
 * answers the recorded rollout.
 */
export async function rolloutStart(
  ctx: OperationsContext,
  input: RolloutStartInput,
  options: Pick<MutationOptions, "idempotencyKey"> = {},
): Promise<RolloutStartResult> {
  const envId = checkEnvArgument(input.environment_id);
  const steps = parseSteps(input.steps);
  const intervalMs = parseDuration(input.interval, "interval");
  const maxError = parseRate(input.max_error_rate);
  const maxP99 = input.max_p99 === undefined ? null : parseDuration(input.max_p99, "max-p99");
  const { environment } = await ctx.store.load(envId);
  const { deployer, hctx } = await rolloutDeployer(ctx, environment);
  if (
    input.foreground !== true &&
    (deployer.startRolloutRunner === undefined || (await deployer.supervisesRollouts?.(hctx)) === false)
  )
    throw new GreenticError(
      "precondition-failed",
      `environment ${envId}'s deployer cannot run a rollout in the background (no supervised runner${deployer.startRolloutRunner === undefined ? "" : " for this environment"})`,
      {
        hint: "run it in this process: op rollout start --foreground",
        details: { code: "rollout-runner-unsupported" },
      },
    );
  const candidate = resolveRevisionRef(environment, input.to, { label: "--to" });
  const payload = {
    environment_id: envId,
    candidate_revision_id: candidate.revision_id,
    steps_bps: steps,
    interval_ms: intervalMs,
    max_error_rate: maxError,
    max_p99_ms: maxP99,
  };
  const outcome = await mutate(ctx, {
    envId,
    noun: "rollout",
    verb: "start",
    payload,
    options,
    transform: async (current) => {
      const env = current as Environment;
      // Checked again under the lock: another command may have moved things since.
      const c = env.revisions.find((r) => r.revision_id === candidate.revision_id)!;
      if (c.lifecycle !== "ready")
        throw new GreenticError(
          "conflict",
          `--to: revision ${c.revision_id} is ${c.lifecycle}; a rollout needs a ready (warmed) revision`,
          { path: "--to", hint: `warm it first: op revisions warm ${envId} ${c.revision_id}` },
        );
      const split = env.traffic_splits.find((s) => s.deployment_id === c.deployment_id);
      const stable = split?.entries
        .filter((e) => e.revision_id !== c.revision_id && e.weight_bps > 0)
        .sort((a, b) => b.weight_bps - a.weight_bps)[0];
      if (stable === undefined)
        throw new GreenticError(
          "conflict",
          `--to: deployment ${c.deployment_id} has no other revision taking traffic to roll back to`,
          {
            path: "--to",
            hint: "a rollout moves traffic from the stable revision to the candidate: deploy the stable one first",
          },
        );
      const active = (await listRollouts(ctx, envId)).find((r) => !TERMINAL.has(r.status));
      if (active !== undefined)
        throw new GreenticError(
          "conflict",
          `rollout ${active.rollout_id} (to ${active.candidate_revision_id}) is ${active.status} in environment ${envId}`,
          {
            hint: `wait for it, or stop it: op rollout abort ${envId} ${active.rollout_id}`,
            details: { code: "rollout-in-progress", rollout_id: active.rollout_id },
          },
        );
      const now = new Date().toISOString();
      const record: RolloutRecord = {
        schema: ROLLOUT_SCHEMA,
        rollout_id: ulid(),
        env_id: envId,
        deployment_id: c.deployment_id,
        stable_revision_id: stable.revision_id,
        candidate_revision_id: c.revision_id,
        steps_bps: steps,
        interval_ms: intervalMs,
        max_error_rate: maxError,
        max_p99_ms: maxP99,
        status: "running",
        step_index: 0,
        applied_step: -1,
        step_started_at: null,
        step_counters: null,
        created_at: now,
        updated_at: now,
        finished_at: null,
        traffic_restored: false,
        measurements: [],
        failure: null,
      };
      await writeRecord(ctx, record);
      return {
        environment: env,
        result: { rollout_id: record.rollout_id },
        target: { ...payload, rollout_id: record.rollout_id, stable_revision_id: stable.revision_id },
      };
    },
  });
  return {
    rollout: await readRollout(ctx, envId, outcome.result.rollout_id),
    idempotency: outcome.idempotency === "replayed" ? "replayed" : "applied",
  };
}

/**
 * Hands the rollout to the deployer's supervisor (on the single VM: the systemd unit
 * `greentic-rollout-<env>.service`). If that fails, the rollout is aborted (nothing was applied
 * yet) and the error thrown.
 */
export async function launchRolloutRunner(
  ctx: OperationsContext,
  record: RolloutRecord,
  runner: { op_command: string[]; store_root?: string | undefined; home?: string | undefined },
): Promise<{ unit: string }> {
  const { environment } = await ctx.store.load(record.env_id);
  const { deployer, hctx } = await rolloutDeployer(ctx, environment);
  try {
    if (deployer.startRolloutRunner === undefined)
      throw new GreenticError("precondition-failed", "this deployer cannot run a rollout in the background", {
        hint: "run it in the foreground: op rollout start --foreground",
      });
    return await deployer.startRolloutRunner(hctx, { rollout_id: record.rollout_id, ...runner });
  } catch (error) {
    const fresh = await readRollout(ctx, record.env_id, record.rollout_id);
    if (fresh.status === "running" && fresh.applied_step === -1)
      await transition(ctx, record.env_id, record.rollout_id, "abort", (r) => {
        r.status = "aborted";
        r.finished_at = new Date().toISOString();
        r.traffic_restored = true;
        r.failure = {
          reason: `its runner did not start: ${(error as Error).message}`,
          step_bps: 0,
          at: r.finished_at,
          figures: null,
        };
      });
    throw error;
  }
}

/** Result of `op rollout pause|resume|abort`: the record, and whether this call changed it. */
export interface RolloutControlResult {
  rollout: RolloutRecord;
  changed: boolean;
}

/**
 * `op rollout pause|resume|abort`. Each is idempotent: pausing a paused rollout or aborting an
 * aborted one changes nothing. A finished rollout cannot be paused, resumed or aborted
 * (conflict). Abort records the rollout aborted first, then sends all traffic back to the
 * stable revision (a runner that dies in between finishes that on its restart).
 */
export async function rolloutControl(
  ctx: OperationsContext,
  envId: string,
  rolloutId: string | undefined,
  verb: "pause" | "resume" | "abort",
): Promise<RolloutControlResult> {
  const id = checkEnvArgument(envId);
  const before = rolloutId === undefined ? await newestRollout(ctx, id) : await readRollout(ctx, id, rolloutId);
  const want = { pause: "paused", resume: "running", abort: "aborted" }[verb];
  if (before.status === want && (verb !== "abort" || before.traffic_restored))
    return { rollout: before, changed: false };
  const refuse = (r: RolloutRecord) => {
    if (TERMINAL.has(r.status) && r.status !== want)
      throw new GreenticError("conflict", `rollout ${r.rollout_id} has ${r.status}; it cannot be ${verb}d`, {
        hint: `see op rollout status ${id} ${r.rollout_id}`,
        details: { code: "rollout-finished", status: r.status },
      });
  };
  refuse(before);
  const record = await transition(ctx, id, before.rollout_id, verb, (r) => {
    refuse(r);
    if (r.status === want) return;
    r.status = want as RolloutRecord["status"];
    // The bake time of the current step starts again: its traffic was held while paused.
    // (Its figures keep counting from the step's start: a breach while paused still counts.)
    if (verb === "resume" && r.step_started_at !== null) r.step_started_at = new Date().toISOString();
    if (verb === "abort") {
      r.finished_at = new Date().toISOString();
      r.failure = {
        reason: `aborted by ${ctx.actor?.name ?? "an operator"}`,
        step_bps: r.steps_bps[r.step_index] ?? 0,
        at: r.finished_at,
        figures: null,
      };
    }
  });
  if (verb === "abort") return { rollout: await restoreStable(ctx, record), changed: true };
  return { rollout: record, changed: true };
}

/** All traffic back on the stable revision (idempotent: one key per rollout), then recorded. */
async function restoreStable(ctx: OperationsContext, record: RolloutRecord): Promise<RolloutRecord> {
  if (record.applied_step !== -1 || record.step_index > 0)
    await trafficSet(ctx, {
      environment_id: record.env_id,
      deployment_id: record.deployment_id,
      entries: [{ revision_id: record.stable_revision_id, weight_bps: 10_000 }],
      idempotency_key: `rollout-${record.rollout_id}-back-to-stable`,
      updated_by: `rollout ${record.rollout_id}`,
    });
  return transition(
    ctx,
    record.env_id,
    record.rollout_id,
    "traffic-restored",
    (r) => {
      r.traffic_restored = true;
    },
    {},
    failCandidate,
  );
}

/**
 * A rollout that failed on a breach marks its candidate `failed` (ready → failed in the
 * reference's matrix), once all traffic is back on the stable revision, and says so in the
 * audit event with the figures that failed it. From `failed` the reference allows `archived`
 * (or a retry through `staged`): `op revisions archive` stops its unit and removes its files.
 * An operator's abort leaves the candidate as it was (`ready`): nothing measured it bad.
 */
function failCandidate(env: Environment, record: RolloutRecord, now: string): Record<string, unknown> | undefined {
  if (record.status !== "failed") return undefined;
  const i = env.revisions.findIndex((r) => r.revision_id === record.candidate_revision_id);
  const candidate = env.revisions[i];
  if (candidate === undefined || candidate.lifecycle === "failed" || !canTransition(candidate.lifecycle, "failed"))
    return { candidate_status: candidate?.lifecycle ?? "absent" };
  env.revisions[i] = transitionRevision(candidate, "failed", now);
  return {
    candidate_status: "failed",
    candidate_lifecycle: { from: candidate.lifecycle, to: "failed" },
    reason: record.failure?.reason ?? null,
    figures: record.failure?.figures ?? null,
  };
}

function splitOf(record: RolloutRecord, step: number) {
  const w = record.steps_bps[step]!;
  return w === 10_000
    ? [{ revision_id: record.candidate_revision_id, weight_bps: 10_000 }]
    : [
        { revision_id: record.stable_revision_id, weight_bps: 10_000 - w },
        { revision_id: record.candidate_revision_id, weight_bps: w },
      ];
}

/**
 * The candidate's figures since its current step went live, and its readiness. Requests and 5xx
 * are differences of the proxy's counters since the step's reading (a proxy reload restarts
 * them: then the counts since the reload); p99 comes from the proxy's per-request timings.
 */
export async function observeCandidate(ctx: OperationsContext, record: RolloutRecord): Promise<RolloutFigures> {
  const { environment } = await ctx.store.load(record.env_id);
  const { deployer, hctx } = await rolloutDeployer(ctx, environment);
  const sinceMs = Date.parse(record.step_started_at ?? record.created_at);
  const reports = await deployer.revisionMetrics!(hctx, { sinceMs });
  const report = reports.find((r) => r.revision_id === record.candidate_revision_id);
  const { counters, ...window } = report ?? {
    revision_id: record.candidate_revision_id,
    requests: 0,
    errors_5xx: 0,
    error_rate: 0,
    p99_ms: null,
  };
  const base = record.step_counters;
  let figures: RevisionMetricsReport = window;
  if (counters !== undefined && base != null) {
    const reset = counters.requests < base.requests || counters.errors_5xx < base.errors_5xx;
    const requests = reset ? counters.requests : counters.requests - base.requests;
    const errors = reset ? counters.errors_5xx : counters.errors_5xx - base.errors_5xx;
    figures = { ...window, requests, errors_5xx: errors, error_rate: requests === 0 ? 0 : errors / requests };
  }
  const readiness = deployer.revisionReadiness
    ? await deployer.revisionReadiness(hctx, record.candidate_revision_id)
    : null;
  return {
    ...figures,
    ready: readiness?.ready ?? null,
    ...(readiness !== null && !readiness.ready ? { ready_detail: readiness.detail } : {}),
  };
}

/** HAProxy's counters for the candidate now (null when the deployer keeps none). */
async function candidateCounters(
  ctx: OperationsContext,
  record: RolloutRecord,
): Promise<{ requests: number; errors_5xx: number } | null> {
  const { environment } = await ctx.store.load(record.env_id);
  const { deployer, hctx } = await rolloutDeployer(ctx, environment);
  const reports = await deployer.revisionMetrics!(hctx, { sinceMs: Date.now() });
  return reports.find((r) => r.revision_id === record.candidate_revision_id)?.counters ?? null;
}

/** Why the figures breach the rollout's limits, or undefined. */
export function breachOf(record: RolloutRecord, f: RolloutFigures, unreadyChecks: number): string | undefined {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  if (f.requests >= MIN_REQUESTS && f.error_rate > record.max_error_rate)
    return `5xx rate ${pct(f.error_rate)} (${f.errors_5xx} of ${f.requests} requests) above ${pct(record.max_error_rate)}`;
  if (f.requests >= MIN_REQUESTS && record.max_p99_ms !== null && f.p99_ms !== null && f.p99_ms > record.max_p99_ms)
    return `p99 ${f.p99_ms} ms over ${f.requests} requests above ${record.max_p99_ms} ms`;
  if (unreadyChecks >= UNREADY_CHECKS)
    return `not ready in ${unreadyChecks} checks in a row: ${f.ready_detail ?? "unknown"}`;
  return undefined;
}

/** Options of {@link rolloutRun}. */
export interface RolloutRunOptions {
  /** Between checks of the candidate. Default 1 s. */
  pollMs?: number;
}

/** Errors a runner rides out (the proxy restarting, a busy lock); others end it. */
function transient(error: unknown): boolean {
  return isGreenticError(error) && ["io", "locked", "conflict"].includes(error.kind);
}

/**
 * The rollout's runner (what its unit runs): applies each step's split through `traffic set`
 * (one idempotency key per step, so a restarted runner applies exactly the recorded step
 * again, never another), checks the candidate's 5xx rate, p99 and readiness every poll, and on
 * a breach records the rollout `failed` with the figures, then sends all traffic back to the
 * stable revision and only then marks the candidate revision `failed`. It resumes from the record after a crash or a reboot and returns once the
 * rollout has finished.
 */
export async function rolloutRun(
  ctx: OperationsContext,
  envId: string,
  rolloutId: string,
  options: RolloutRunOptions = {},
): Promise<RolloutRecord> {
  const poll = options.pollMs ?? 1_000;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let unready = 0;
  for (;;) {
    try {
      const record = await readRollout(ctx, envId, rolloutId);
      const id = record.rollout_id;
      if (TERMINAL.has(record.status)) {
        if (record.status !== "succeeded" && !record.traffic_restored) return await restoreStable(ctx, record);
        return record;
      }
      const step = record.step_index;
      const weight = record.steps_bps[step]!;
      const paused = record.status === "paused";
      if (paused && record.applied_step !== step) {
        await sleep(poll);
        continue;
      }
      if (record.applied_step !== step) {
        progress(
          ctx,
          "rollout.step",
          `step ${step + 1}/${record.steps_bps.length}: ${weight / 100}% to ${record.candidate_revision_id}`,
          {
            rollout_id: id,
            step_bps: weight,
          },
        );
        await trafficSet(ctx, {
          environment_id: envId,
          deployment_id: record.deployment_id,
          entries: splitOf(record, step),
          idempotency_key: `rollout-${id}-step-${step}`,
          updated_by: `rollout ${id}`,
        });
        const counters = await candidateCounters(ctx, record);
        const after = await transition(ctx, envId, id, "step", (r) => {
          if (r.status !== "running" || r.step_index !== step) return;
          r.applied_step = step;
          r.step_started_at = new Date().toISOString();
          r.step_counters = counters;
        });
        // Aborted (or paused and stepped) while this split went out: the abort's split must win.
        if (after.status === "aborted" || after.status === "failed")
          await trafficSet(ctx, {
            environment_id: envId,
            deployment_id: record.deployment_id,
            entries: [{ revision_id: record.stable_revision_id, weight_bps: 10_000 }],
            idempotency_key: `rollout-${id}-back-to-stable-after-step-${step}`,
            updated_by: `rollout ${id}`,
          });
        unready = 0;
        continue;
      }
      const figures = await observeCandidate(ctx, record);
      unready = figures.ready === false ? unready + 1 : 0;
      const breach = breachOf(record, figures, unready);
      if (breach !== undefined) {
        const failed = await transition(
          ctx,
          envId,
          id,
          "fail",
          (r) => {
            if (r.status !== "running" && r.status !== "paused") return;
            const at = new Date().toISOString();
            r.status = "failed";
            r.finished_at = at;
            r.failure = { reason: breach, step_bps: weight, at, figures };
            r.measurements.push({ step_bps: weight, at, ...figures });
          },
          // The candidate becomes `failed` once traffic is back on stable (see restoreStable).
          { reason: breach, figures },
        );
        if (failed.status !== "failed") continue;
        progress(
          ctx,
          "rollout.failed",
          `failed at ${weight / 100}%: ${breach}; all traffic back on ${record.stable_revision_id}`,
          {
            rollout_id: id,
          },
        );
        return await restoreStable(ctx, failed);
      }
      const started = Date.parse(record.step_started_at!);
      // Paused: the checks go on (a breach still aborts), no step is taken.
      if (!paused && Date.now() - started >= record.interval_ms) {
        const last = step === record.steps_bps.length - 1;
        await transition(
          ctx,
          envId,
          id,
          last ? "complete" : "advance",
          (r) => {
            if (r.status !== "running" || r.step_index !== step) return;
            r.measurements.push({ step_bps: weight, at: new Date().toISOString(), ...figures });
            if (last) {
              r.status = "succeeded";
              r.finished_at = new Date().toISOString();
            } else r.step_index = step + 1;
          },
          { figures },
        );
        continue;
      }
      await sleep(paused ? poll : Math.min(poll, Math.max(50, record.interval_ms - (Date.now() - started))));
    } catch (error) {
      if (!transient(error)) throw error;
      progress(ctx, "rollout.retry", `retrying after: ${(error as Error).message}`, { rollout_id: rolloutId });
      await sleep(poll);
    }
  }
}

/** What `op rollout status` shows: the record, and the candidate's figures now (running or paused). */
export interface RolloutStatus {
  rollout: RolloutRecord;
  /** The candidate's figures since its step went live, read from the proxy now (null when finished or unreadable). */
  observed: RolloutFigures | null;
  /** The split the store records for the deployment now. */
  split: Array<{ revision_id: string; weight_bps: number }>;
}

/** `op rollout status ENV [ROLLOUT]`: one rollout (default: the newest) with live figures. */
export async function rolloutStatus(ctx: OperationsContext, envId: string, rolloutId?: string): Promise<RolloutStatus> {
  const id = checkEnvArgument(envId);
  const record = rolloutId === undefined ? await newestRollout(ctx, id) : await readRollout(ctx, id, rolloutId);
  const observed =
    TERMINAL.has(record.status) || record.applied_step === -1
      ? null
      : await observeCandidate(ctx, record).catch(() => null);
  const { environment } = await ctx.store.load(id);
  const split = environment.traffic_splits.find((s) => s.deployment_id === record.deployment_id);
  return {
    rollout: record,
    observed,
    split: (split?.entries ?? []).map((e) => ({ revision_id: e.revision_id, weight_bps: e.weight_bps })),
  };
}
