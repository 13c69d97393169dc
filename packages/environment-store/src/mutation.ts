import { join } from "node:path";
import {
  GreenticError,
  canonicalDigest,
  canonicalJson,
  type AuditActor,
  type AuditDecision,
} from "@greentic/deploy-spec/documents";
import { appendAuditEvent } from "./audit-log.js";
import { localActor } from "./authorize.js";
import { commit } from "./commit.js";
import { readIfExists } from "./fs-safe.js";
import { checkIdempotencyKey, findLedgerEntry, replayedError, type LedgerEntry } from "./ledger.js";
import type { HeldLock } from "./lock.js";
import { checkPrecondition, checkPreconditionInput, type CheckedPrecondition } from "./precondition.js";
import { recover, withLock } from "./recovery.js";
import { AUDIT_DIR, LEDGER_DIR, newUlid, type StoreCore } from "./store-core.js";
import type { AuditEventRecord, MutationCheck, TransactOptions, TransactResult, Transform } from "./types.js";
import { planChange } from "./plan-change.js";
import { parseJson, readEnv, readRuntime, type CurrentEnv } from "./verified-read.js";

// The mutation pipeline: options checked before the lock, then under it crash recovery,
// existence, authorization, the idempotency ledger and the precondition, then the transform,
// validation, and the commit.

/** A mutation's options checked before the lock is taken, and its idempotency fingerprint. */
export interface PreparedMutation {
  noun: string;
  verb: string;
  actor: AuditActor;
  fingerprint: string;
  precondition: CheckedPrecondition | undefined;
}

function requireName(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new GreenticError("invalid-argument", `${what} must be a non-empty string, got ${JSON.stringify(value)}`, {
      hint: `pass the audit ${what}, e.g. "traffic"`,
    });
  }
  return value;
}

/** Checks a mutation's options before anything is read or locked: bad input changes nothing. */
export function prepareMutation(options: TransactOptions): PreparedMutation {
  const noun = requireName(options?.noun, "noun");
  const verb = requireName(options?.verb, "verb");
  checkIdempotencyKey(options.idempotencyKey);
  return {
    noun,
    verb,
    actor: options.actor ?? localActor(),
    fingerprint: canonicalDigest({ noun, verb, request: options.request ?? null }),
    precondition: checkPreconditionInput(options.precondition),
  };
}

/** What {@link openMutation} found: the base to transform, or the recorded result. */
export interface OpenedMutation<R> {
  /** The verified current document; undefined when absent, or corrupt under `tolerateCorrupt`. */
  base: CurrentEnv | undefined;
  /** The state the precondition was checked against (a corrupt file's raw etag and generation, -1 if unknown). */
  pinned: { etag: string; generation: number } | undefined;
  now: string;
  event: AuditEventRecord;
  replayed?: TransactResult<R> | undefined;
}

/** How a mutation opens, beyond {@link TransactOptions}. */
export interface OpenOptions {
  /**
   * Restore and destroy act on a corrupt `environment.json` too: its raw etag and generation
   * are pinned instead of failing with `integrity`.
   */
  tolerateCorrupt?: boolean | undefined;
}

export async function decide(
  core: Pick<StoreCore, "authorizer">,
  actor: AuditActor,
  envId: string,
  noun: string,
  verb: string,
  target: unknown,
): Promise<AuditDecision> {
  try {
    return await core.authorizer({ actor, env_id: envId, noun, verb, target });
  } catch (error) {
    throw new GreenticError(
      "internal",
      `authorization hook failed for ${noun} ${verb} on ${envId}: ${(error as Error).message}`,
      { cause: error, hint: "fix the authorization policy" },
    );
  }
}

export function newEvent(
  envId: string,
  actor: AuditActor,
  noun: string,
  verb: string,
  target: unknown,
  decision: AuditDecision,
  now: string,
): AuditEventRecord {
  return {
    schema: "greentic.audit.event.v1",
    event_id: newUlid(),
    ts: now,
    actor,
    env_id: envId,
    noun,
    verb,
    target: (target ?? null) as AuditEventRecord["target"],
    authorization: decision,
    result: { outcome: "ok" },
  };
}

/** Records a denied attempt and returns the `unauthorized` error to throw. */
export async function deny(core: StoreCore, envId: string, event: AuditEventRecord): Promise<GreenticError> {
  const { policy, reason } = event.authorization;
  const error = new GreenticError(
    "unauthorized",
    `${event.noun} ${event.verb} on environment ${envId} denied by policy ${policy}: ${reason}`,
    {
      hint: "ask an operator with access to this environment",
      details: { policy, reason },
    },
  );
  event.result = { outcome: "error", kind: "unauthorized", message: error.message };
  await appendAuditEvent(core.root, join(core.envDir(envId), AUDIT_DIR), event);
  return error;
}

/**
 * A ledger entry found for a mutation's key: the recorded result when the request is the same
 * (its fingerprint), `idempotency-conflict` when the key was used for another request.
 */
export function replayLedgerEntry<R>(envId: string, entry: LedgerEntry, fingerprint: string): TransactResult<R> {
  if (entry.fingerprint !== fingerprint) {
    throw new GreenticError(
      "idempotency-conflict",
      `idempotency key ${JSON.stringify(entry.key)} was already used on environment ${envId} for a different request (${entry.noun} ${entry.verb} at generation ${entry.generation})`,
      {
        hint: "use a new key for a new request; reuse a key only to retry the identical request",
        details: { key: entry.key, original: { noun: entry.noun, verb: entry.verb } },
      },
    );
  }
  if (entry.error) throw replayedError(entry.error);
  return { ...(entry.response as TransactResult<R>), idempotency: "replayed" };
}

/**
 * The checks every mutation starts with, in this order, under the held lock: crash recovery,
 * existence, authorization (a denial is audited), the idempotency ledger (same key and
 * request: the recorded result; another request: `idempotency-conflict`), then the caller's
 * precondition. The ledger goes before the precondition because a retry of a committed
 * request pins the state it saw before its own commit. Shared by `transact`,
 * `checkMutation`, `restore` and `destroy`, so that a pre-check and the authoritative check
 * cannot drift apart.
 */
async function openMutation<R>(
  core: StoreCore,
  envId: string,
  lock: HeldLock,
  options: TransactOptions,
  prepared: PreparedMutation,
  open: OpenOptions,
): Promise<OpenedMutation<R>> {
  const { noun, verb, actor, fingerprint } = prepared;
  await recover(core, envId, lock, { tolerateTampered: open.tolerateCorrupt === true });
  let base: CurrentEnv | undefined;
  let pinned: { etag: string; generation: number } | undefined;
  try {
    base = await readEnv(core, envId, !open.tolerateCorrupt);
    pinned = base;
  } catch (error) {
    if (!open.tolerateCorrupt || !(error instanceof GreenticError) || error.kind !== "integrity") throw error;
    const details = error.details as { etag: string; generation?: number };
    pinned = { etag: details.etag, generation: details.generation ?? -1 };
  }
  if (!pinned && !options.create) throw core.notFound(envId);
  const now = new Date().toISOString();
  const decision = await decide(core, actor, envId, noun, verb, options.target ?? null);
  const event = newEvent(envId, actor, noun, verb, options.target ?? null, decision, now);
  if (options.idempotencyKey !== undefined) event.idempotency_key = options.idempotencyKey;
  if (decision.decision !== "allow") throw await deny(core, envId, event);

  if (options.idempotencyKey !== undefined) {
    const entry = await findLedgerEntry(join(core.envDir(envId), LEDGER_DIR), options.idempotencyKey);
    if (entry) return { base, pinned, now, event, replayed: replayLedgerEntry<R>(envId, entry, fingerprint) };
  }
  checkPrecondition(envId, pinned, prepared.precondition);
  return { base, pinned, now, event };
}

/**
 * The mutation pipeline every writer goes through: options checked before the lock, the
 * per-environment lock, {@link openMutation}'s checks, then `body` (plan and commit) while
 * the lock is held. A recorded result (idempotent replay) is returned without calling `body`.
 */
export async function runMutation<R, T>(
  core: StoreCore,
  envId: string,
  options: TransactOptions,
  open: OpenOptions,
  body: (opened: OpenedMutation<R>, lock: HeldLock, prepared: PreparedMutation) => Promise<T>,
  onReplay: (replayed: TransactResult<R>) => T,
  operation?: string,
): Promise<T> {
  const prepared = prepareMutation(options);
  return withLock(core, envId, operation ?? `${prepared.noun} ${prepared.verb}`, async (lock) => {
    const opened = await openMutation<R>(core, envId, lock, options, prepared, open);
    if (opened.replayed) return onReplay(opened.replayed);
    return body(opened, lock, prepared);
  });
}

export async function checkMutation<R = unknown>(
  core: StoreCore,
  envId: string,
  options: TransactOptions,
): Promise<MutationCheck<R>> {
  const prepared = prepareMutation(options);
  return runMutation<R, MutationCheck<R>>(
    core,
    envId,
    options,
    {},
    async (opened) => ({ status: "proceed", etag: opened.base?.etag, generation: opened.base?.generation }),
    (replayed) => ({ status: "replay", replayed }),
    `${prepared.noun} ${prepared.verb} (check)`,
  );
}

export async function transact<R>(
  core: StoreCore,
  envId: string,
  fn: Transform<R>,
  options: TransactOptions,
): Promise<TransactResult<R>> {
  const body = async (
    opened: OpenedMutation<R>,
    lock: HeldLock,
    prepared: PreparedMutation,
  ): Promise<TransactResult<R>> => {
    const { base, now, event } = opened;
    const planned = await planChange<R>({
      envId,
      base,
      now,
      event,
      options,
      prepared,
      fn,
      readRuntime: () => readRuntime(core, envId, base!.generation),
      readSide: async (rel) => {
        const raw = await readIfExists(join(core.envDir(envId), rel));
        return raw === undefined ? undefined : parseJson(core, envId, rel, raw);
      },
      dropUnchanged: (side) => dropUnchanged(core, envId, side),
    });
    if (planned.quiet) return planned.quiet;
    const { outcome, document, etag, generation, side, ledger } = planned;
    const audit = await commit(core, envId, lock, { base, environment: document, generation, side, ledger, event });
    if (outcome.error) throw outcome.error;
    return { result: outcome.result, etag, generation, idempotency: "applied", audit };
  };
  return runMutation<R, TransactResult<R>>(core, envId, options, {}, body, (replayed) => replayed);
}

/** Drops staged side writes equal to what is on disk; true if any real change remains. */
export async function dropUnchanged(core: StoreCore, envId: string, side: Map<string, unknown>): Promise<boolean> {
  for (const [rel, value] of side) {
    const raw = await readIfExists(join(core.envDir(envId), rel));
    let same: boolean;
    if (raw === undefined) same = value === null;
    else if (value === null) same = false;
    else {
      try {
        same = canonicalJson(JSON.parse(raw.toString("utf8"))) === canonicalJson(value);
      } catch {
        same = false;
      }
    }
    if (same) side.delete(rel);
  }
  return side.size > 0;
}
