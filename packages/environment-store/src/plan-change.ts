import {
  EnvironmentRuntimeSchema,
  GreenticError,
  canonicalDigest,
  canonicalJson,
  issuesError,
  parseDocument,
  parseEnvironment,
  prettyJson,
  projectRuntimeConfig,
  type Environment,
  type EnvironmentRuntime,
} from "@greentic/deploy-spec/documents";
import { checkNewRouteCollisions } from "@greentic/deploy-spec/routes";
import type { LedgerEntry } from "./ledger.js";
import { RUNTIME_CONFIG_FILE, RUNTIME_FILE, newUlid, packAnswersPath } from "./store-core.js";
import type {
  AuditEventRecord,
  TransactContext,
  TransactOptions,
  TransactResult,
  Transform,
  TransformOutcome,
} from "./types.js";

// The medium-free middle of `transact`, shared by every backend: the staged context a
// transform reads and writes the side documents through, the check of what it returns, and
// the change it leaves to commit (next generation, etag, audit fields, ledger entry). The
// backend supplies how committed documents are read and compared, and commits the result.

/** What a backend tells {@link planChange} about the committed state. */
export interface PlanChangeInput<R> {
  envId: string;
  /** The verified current document; undefined when the environment does not exist yet. */
  base: { environment: Environment; etag: string; generation: number } | undefined;
  now: string;
  /** The mutation's audit event; its target, generations and result are filled in here. */
  event: AuditEventRecord;
  options: TransactOptions;
  prepared: { noun: string; verb: string; fingerprint: string };
  fn: Transform<R>;
  /** The committed `runtime.json`; called only when `base` exists. */
  readRuntime: () => Promise<EnvironmentRuntime | undefined>;
  /** A committed side document by relative path, parsed; undefined when absent. */
  readSide: (rel: string) => Promise<unknown>;
  /** Drops staged side writes equal to what is committed; true if any real change remains. */
  dropUnchanged: (side: Map<string, unknown>) => Promise<boolean>;
}

/** A change ready to commit, or a quiet no-op's result (`quiet`), with nothing to write. */
export type PlannedChange<R> =
  | { quiet: TransactResult<R> }
  | {
      quiet?: undefined;
      outcome: TransformOutcome<R>;
      /** The new document with its generation; undefined when only the audit event (and ledger) is written. */
      document: Record<string, unknown> | undefined;
      etag: string;
      generation: number;
      /** Staged side writes that differ from what is committed (`null`: remove). */
      side: Map<string, unknown>;
      ledger: LedgerEntry | undefined;
      /** The response the ledger records; its `audit` is replaced by the event as committed. */
      response: { result: R; etag: string; generation: number; audit: AuditEventRecord };
    };

/** Stages runtime-config.json: the projection of the traffic splits, removed when there is none. */
export function stageRuntimeConfig(env: Environment, side: Map<string, unknown>): void {
  side.set(RUNTIME_CONFIG_FILE, projectRuntimeConfig(env));
}

/** The context a transform reads and stages side documents through; staged writes shadow committed ones. */
function stagedContext(input: PlanChangeInput<unknown>, side: Map<string, unknown>): TransactContext {
  const { envId, base, now } = input;
  return {
    now,
    newId: () => newUlid(),
    runtime: async () =>
      side.has(RUNTIME_FILE)
        ? ((side.get(RUNTIME_FILE) ?? undefined) as EnvironmentRuntime | undefined)
        : base
          ? input.readRuntime()
          : undefined,
    setRuntime: (runtime) => {
      if (runtime !== null) {
        const parsed = parseDocument(EnvironmentRuntimeSchema, runtime, { source: RUNTIME_FILE });
        if (!parsed.ok) throw issuesError(parsed.issues, { source: RUNTIME_FILE });
        if (parsed.value.environment_id !== envId)
          throw new GreenticError(
            "validation",
            `${RUNTIME_FILE}: environment_id ${parsed.value.environment_id} is not ${envId}`,
            { path: "environment_id" },
          );
      }
      side.set(RUNTIME_FILE, runtime);
    },
    packAnswers: async (slot) => {
      const rel = packAnswersPath(slot);
      return side.has(rel) ? (side.get(rel) ?? undefined) : input.readSide(rel);
    },
    setPackAnswers: (slot, answers) => {
      side.set(packAnswersPath(slot), answers === undefined ? null : answers);
    },
  };
}

/** Checks what a transform returned: a valid environment that keeps its id. */
function checkOutcome(envId: string, environment: unknown): Environment {
  const checked = parseEnvironment(environment, { source: `environment ${envId}` });
  if (!checked.ok) throw issuesError(checked.issues, { source: `environment ${envId}` });
  if (checked.value.environment_id !== envId)
    throw new GreenticError(
      "validation",
      `environment_id ${JSON.stringify(checked.value.environment_id)} does not match the environment being written, ${JSON.stringify(envId)}`,
      { path: "environment_id", hint: "a transform must keep the environment id" },
    );
  return checked.value;
}

/**
 * Runs a transform against the staged context and plans its change: a new generation when
 * the document or a side document changed (or the environment is new), the same one for a
 * no-op, which is still audited unless `quietNoop`.
 */
export async function planChange<R>(input: PlanChangeInput<R>): Promise<PlannedChange<R>> {
  const { envId, base, now, event, options, prepared } = input;
  const side = new Map<string, unknown>();
  const outcome = await input.fn(
    base ? structuredClone(base.environment) : undefined,
    stagedContext(input as PlanChangeInput<unknown>, side),
  );

  const checked = checkOutcome(envId, outcome.environment);
  // Every verb that moves traffic or changes a binding commits here: two deployments with
  // traffic that claim the same requests are refused as they are written, not per request.
  checkNewRouteCollisions(base?.environment, checked);
  const { generation: _ignored, ...content } = checked;
  const baseContent = base ? canonicalJson({ ...base.environment, generation: undefined }) : undefined;
  const changed = baseContent !== canonicalJson(content);
  stageRuntimeConfig(checked, side);
  const sideChanged = await input.dropUnchanged(side);
  const mutated = changed || sideChanged || !base;
  const generation = mutated ? (base?.generation ?? 0) + 1 : base!.generation;
  const document = mutated ? { ...content, generation } : undefined;

  if (outcome.target !== undefined) event.target = outcome.target as AuditEventRecord["target"];
  if (mutated) {
    if (base) event.previous_generation = base.generation;
    event.new_generation = generation;
  }
  if (outcome.error) event.result = { outcome: "error", kind: outcome.error.kind, message: outcome.error.message };

  const etag = document ? canonicalDigest(JSON.parse(prettyJson(document))) : base!.etag;
  if (!mutated && options.quietNoop && !outcome.error)
    return { quiet: { result: outcome.result, etag, generation, idempotency: "applied", audit: event } };
  const response = { result: outcome.result, etag, generation, audit: event };
  const ledger: LedgerEntry | undefined =
    options.idempotencyKey === undefined
      ? undefined
      : {
          schema: "greentic.idempotency-entry.v1",
          key: options.idempotencyKey,
          fingerprint: prepared.fingerprint,
          noun: prepared.noun,
          verb: prepared.verb,
          generation,
          recorded_at: now,
          response,
          error: outcome.error?.toJSON(),
        };
  return { outcome, document, etag, generation, side, ledger, response };
}
