import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { GreenticError, transitionRevision, type Environment, type Revision } from "@greentic/deploy-spec/documents";
import type {
  HealthGateOutcome as EngineGate,
  RevisionResult,
  TagRevisionResult,
  WarmRevisionResult,
} from "@greentic/deploy-spec";
import type { Deployer, HandlerContext, RevisionRef, RevisionRuntimeStatus } from "@greentic/env-packs";
import type { TransformOutcome } from "@greentic/environment-store";
import { ulid } from "ulid";
import { checkBundleContent } from "./bundle-check.js";
import { reconcileTraffic } from "./status.js";
import {
  answersEntry,
  checkEnvArgument,
  mutate,
  parseAnswers,
  precheck,
  progress,
  withCommit,
  type OperationsContext,
} from "./context.js";
import { deployerOf, required } from "./lookups.js";
import { parseRevisionRef, resolveDeploymentRef, resolveRevisionRef } from "./refs.js";
import type { Mutated, MutationOptions } from "./types.js";

/** `op revisions stage` result: the staged revision (with its `bundle_digest`). */
export type StageResult = Mutated<RevisionResult>;

/** `op revisions warm` result; `url` is where the revision answers, when the deployer says. */
export type WarmResult = Mutated<WarmRevisionResult & { url?: string }>;

/** `op revisions list <env>` result. */
export interface RevisionsListResult {
  environment_id: string;
  revisions: Revision[];
  /** Basis points each listed revision takes in its deployment's split (absent: none). */
  traffic_bps: Record<string, number>;
  /** Where each running revision answers, as the deployer reports it. */
  urls: Record<string, string>;
  /**
   * What runs, from the deployer: `running`, `down` (its process is gone), `stopped` (not
   * started); absent for a revision the deployer has nothing of (never staged here, archived).
   */
  live: Record<string, "running" | "down" | "stopped">;
}

/** `op revisions show <env> <revision>`: the record, the splits routing to it, and what the deployer runs. */
export interface RevisionShowResult {
  environment_id: string;
  revision: Revision;
  traffic: { deployment_id: string; weight_bps: number }[];
  /** The deployer's view (process, url), or null when it has nothing for the revision. */
  runtime: RevisionRuntimeStatus | null;
}

/** Engine context for a preview run on a loaded copy (nothing is stored). */
function previewContext() {
  return { now: new Date().toISOString(), newId: ulid };
}

function refOf(revision: Pick<Revision, "revision_id" | "deployment_id" | "bundle_id">): RevisionRef {
  return { revision_id: revision.revision_id, deployment_id: revision.deployment_id, bundle_id: revision.bundle_id };
}

/**
 * Checks that a bundle file named in an answers payload can be read: a path that does not
 * exist, is not a regular file or cannot be opened is `invalid-argument` (bad input, exit 2)
 * naming the path. Whether its content is a valid bundle is the deployer's `stage` to say.
 * Returns the absolute path.
 */
export async function checkBundleFile(bundlePath: string, field = "bundle_path", source?: string): Promise<string> {
  const file = resolve(bundlePath);
  const where = `${source === undefined ? "" : `${source}: `}${field}`;
  let problem: string | undefined;
  try {
    if (!(await stat(file)).isFile()) problem = "is not a regular file";
    else await access(file, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problem =
      code === "ENOENT" || code === "ENOTDIR"
        ? "does not exist"
        : `cannot be read (${code ?? (error as Error).message})`;
  }
  if (problem !== undefined) {
    throw new GreenticError("invalid-argument", `${where}: bundle file ${file} ${problem}`, {
      path: field,
      hint: "name an existing .gtbundle file (build one with `op bundles build`)",
      details: { bundle_path: file },
    });
  }
  return file;
}

/**
 * `op revisions stage`: checks the bundle file's content (as `op deploy` does), stages it
 * through the bound deployer (copy, hash, extract), then records the revision as `staged` with that `bundle_digest` and the next
 * sequence. Nothing is copied for a request the store would refuse or replay: the bundle
 * file, precondition and idempotency key are checked first. The copy is removed again when
 * the record cannot be committed after all (another writer got in between).
 */
export async function revisionsStage(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
  internal: { contentChecked?: boolean } = {},
): Promise<StageResult> {
  const payload = await parseAnswers("revisions stage", answers, options);
  const { engine } = await answersEntry();
  if (payload.bundle_path === undefined) {
    throw new GreenticError(
      "validation",
      `${options.source ?? "revisions stage answers"}: bundle_path: required field is missing (the .gtbundle file to stage)`,
      {
        path: "bundle_path",
        issues: [
          {
            path: "bundle_path",
            code: "missing-field",
            message: "required field is missing (the .gtbundle file to stage)",
          },
        ],
        hint: "build the bundle with `op bundles build` and name the file in bundle_path",
      },
    );
  }
  // Input first, before anything is looked up.
  const bundlePath = await checkBundleFile(payload.bundle_path, "bundle_path", options.source);
  // The content too, on the user's file: a refused bundle is named as the user gave it.
  if (internal.contentChecked !== true) await checkBundleContent(bundlePath, payload.bundle_path);
  const envId = payload.environment_id;
  const commit = { envId, noun: "revisions", verb: "stage", payload, options };
  // Before the copy: a stale pin or a reused key must not leave files in the data area, and a
  // retry must answer with the revision staged the first time instead of copying again.
  const replayed = await precheck<RevisionResult>(ctx, commit);
  if (replayed !== undefined) return withCommit(replayed);

  const { environment } = await ctx.store.load(envId);
  const deployment = environment.bundles.find((b) => b.deployment_id === payload.deployment_id);
  if (deployment === undefined) {
    throw new GreenticError("not-found", `deployment ${payload.deployment_id} does not exist in environment ${envId}`, {
      hint: "add the bundle first with `op bundles add` (or use `op deploy`)",
      details: { deployment_id: payload.deployment_id },
    });
  }
  const { deployer, hctx } = await deployerOf(ctx, environment);
  const revisionId = payload.revision_id ?? ulid();
  const ref = refOf({
    revision_id: revisionId,
    deployment_id: deployment.deployment_id,
    bundle_id: deployment.bundle_id,
  });
  progress(ctx, "revisions.stage", `staging ${payload.bundle_path} as revision ${revisionId}`, {
    revision_id: revisionId,
  });
  // A failed stage cleans up after itself (the deployer removes the directory it made).
  const staged = await deployer.stage(hctx, { revision: ref, bundlePath });
  // Removes this call's copy; never a revision that was already staged before it.
  const discard = async () => {
    if (staged.unchanged === true) return;
    if (deployer.unstage !== undefined) await deployer.unstage(hctx, ref).catch(() => undefined);
    else await deployer.archive(hctx, ref).catch(() => undefined);
  };
  let outcome;
  try {
    outcome = await mutate(ctx, {
      ...commit,
      transform: (current, tx) =>
        engine.stageRevision(
          required(current, envId),
          {
            environment_id: envId,
            deployment_id: payload.deployment_id,
            revision_id: revisionId,
            bundle_digest: staged.bundle_digest,
            bundle_source_uri: payload.bundle_source_uri,
            drain_seconds: payload.drain_seconds,
          },
          tx,
        ),
    });
  } catch (error) {
    // A writer that lost its lock right after linking its commit record (paused past the stale
    // period) hears "not committed", yet the next writer rolled that record forward: the
    // revision is in the store, and its copy must stay for a retry (which replays it) to warm.
    const { environment: now } = await ctx.store.load(envId).catch(() => ({ environment: undefined }));
    if (!now?.revisions.some((r) => r.revision_id === revisionId)) await discard();
    throw error;
  }
  // A replay here (the same key committed by another caller since the pre-check) answers with
  // the revision staged the first time: the copy made now is surplus.
  if (outcome.result.revision.revision_id !== revisionId) await discard();
  return withCommit(outcome);
}

/** Where a revision answers now, as the deployer reports it (read-only: nothing is started). */
async function runningUrl(ctx: OperationsContext, envId: string, revisionId: string): Promise<string | undefined> {
  const { environment } = await ctx.store.load(envId);
  const { deployer, hctx } = await deployerOf(ctx, environment);
  const status = (await deployer.status(hctx)).find((s) => s.revision_id === revisionId);
  return status?.state === "running" ? status.url : undefined;
}

/** A commit refused by the store's checks (not by the transform), as after a lost race. */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof GreenticError && (error.kind === "precondition-failed" || error.kind === "idempotency-conflict")
  );
}

/** staged → warming, as its own committed step so that observers see the gate running. */
function beginWarm(
  current: Environment | undefined,
  envId: string,
  revisionId: string,
  now: string,
): TransformOutcome<{ revision: Revision }> {
  const env = structuredClone(required(current, envId));
  const i = env.revisions.findIndex((r) => r.revision_id === revisionId);
  if (i < 0)
    throw new GreenticError("not-found", `revision ${revisionId} does not exist in environment ${envId}`, {
      hint: "list revisions with `op revisions list`",
    });
  const revision = transitionRevision(env.revisions[i]!, "warming", now);
  env.revisions[i] = revision;
  return { environment: env, result: { revision }, target: { revision_id: revisionId, lifecycle: "warming" } };
}

/**
 * `op revisions warm`: staged → warming (committed), then the deployer's real health gate,
 * then `ready`, or `failed` committed-on-error and thrown as `conflict`
 * (`details.code: health-gate-failed`). A revision already `ready` is re-confirmed with the
 * deployer (a dead process is restarted) and stays `ready`.
 */
export async function revisionsWarm(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<WarmResult> {
  const payload = await parseAnswers("revisions warm", answers, options);
  const { engine } = await answersEntry();
  const envId = payload.environment_id;
  // The key and the caller's pin belong to the final commit, but starting the runtime is a
  // side effect: check them before anything runs. A retry of a committed warm answers with the
  // recorded result (or its recorded health-gate failure) and starts nothing.
  const replayed = await precheck<WarmRevisionResult>(ctx, {
    envId,
    noun: "revisions",
    verb: "warm",
    payload,
    options,
  });
  if (replayed !== undefined) {
    const url = await runningUrl(ctx, envId, payload.revision_id);
    return url === undefined ? withCommit(replayed) : { ...withCommit(replayed), url };
  }
  const { environment } = await ctx.store.load(envId);
  // The engine's own guards (unknown revision, wrong state, stale expected_lifecycle) before any side effect.
  engine.warmRevision(environment, { ...payload, health_gate: { ok: true } }, previewContext());
  const revision = environment.revisions.find((r) => r.revision_id === payload.revision_id)!;
  const { deployer, hctx } = await deployerOf(ctx, environment);

  let precondition = options.precondition;
  let expected = payload.expected_lifecycle;
  if (revision.lifecycle === "staged") {
    await mutate(ctx, {
      envId,
      noun: "revisions",
      verb: "warm",
      payload: {},
      options: { precondition },
      request: null,
      transform: (current, tx) => beginWarm(current, envId, revision.revision_id, tx.now),
    });
    // The caller's pin was for the state before warming; the final commit pins "still warming".
    precondition = undefined;
    expected = "warming";
  }

  progress(ctx, "revisions.warm", `waiting for revision ${revision.revision_id} to become ready`, {
    revision_id: revision.revision_id,
  });
  let gate: EngineGate;
  let url: string | undefined;
  try {
    const outcome = await deployer.warm(hctx, {
      revision: refOf(revision),
      ...(ctx.warmTimeoutMs === undefined ? {} : { timeoutMs: ctx.warmTimeoutMs }),
    });
    if (outcome.ok) {
      gate = { ok: true };
      url = outcome.url;
    } else gate = { ok: false, failure: outcome.failure };
  } catch (error) {
    // A deployer that throws counts as a failed gate: the revision must not stay `warming`.
    gate = {
      ok: false,
      failure: { failed_checks: ["deployer"], message: error instanceof Error ? error.message : String(error) },
    };
  }

  if (revision.lifecycle === "ready" && !gate.ok) {
    throw new GreenticError(
      "conflict",
      `revision ${revision.revision_id} is ready but its health gate fails now: ${gate.failure.message}`,
      {
        hint: "see `op env doctor`; move traffic away and archive it, or deploy again",
        details: {
          code: "health-gate-failed",
          revision_id: revision.revision_id,
          failed_checks: gate.failure.failed_checks,
        },
      },
    );
  }
  let committed;
  try {
    committed = await mutate(ctx, {
      envId,
      noun: "revisions",
      verb: "warm",
      payload,
      options: { ...options, precondition },
      transform: (current, tx) =>
        engine.warmRevision(
          required(current, envId),
          { environment_id: envId, revision_id: revision.revision_id, expected_lifecycle: expected, health_gate: gate },
          tx,
        ),
    });
  } catch (error) {
    // Another writer got in between the pre-check and this commit (moved the environment on,
    // or used the key): the process this call started must not outlive the refusal.
    if (gate.ok && revision.lifecycle !== "ready" && isRefusal(error))
      await deployer.drain(hctx, refOf(revision)).catch(() => undefined);
    throw error;
  }
  const result = withCommit(committed);
  return url === undefined ? result : { ...result, url };
}

/** Where a revision receives traffic: `stored` from the store's splits, `live` from what the deployer applies. */
export interface TrafficReference {
  deployment_id: string;
  weight_bps: number;
  source: "stored" | "live";
}

/** The splits, stored and live, that still send `revisionId` requests (weight above 0). */
export async function trafficReferences(
  env: Environment,
  revisionId: string,
  deployer: Deployer,
  hctx: HandlerContext,
): Promise<TrafficReference[]> {
  const out: TrafficReference[] = [];
  for (const split of env.traffic_splits)
    for (const e of split.entries)
      if (e.revision_id === revisionId && e.weight_bps > 0)
        out.push({ deployment_id: split.deployment_id, weight_bps: e.weight_bps, source: "stored" });
  // The deployer's applied splits: after a crash between the store commit and the router
  // update they differ from the store, and a revision the router still serves must not stop.
  const live = await deployer.runtimeConfig(hctx).catch(() => undefined);
  for (const e of live?.revisions ?? [])
    if (e.revision_id === revisionId && e.weight_bps > 0)
      out.push({ deployment_id: e.deployment_id, weight_bps: e.weight_bps, source: "live" });
  return out;
}

/** `conflict` (exit 3) for stopping a revision that still carries traffic, stored or live. */
export function carriesTrafficError(
  verb: string,
  revisionId: string,
  refs: readonly TrafficReference[],
): GreenticError {
  const stored = refs.filter((r) => r.source === "stored");
  const where = (stored.length > 0 ? stored : refs)
    .map((r) => `${(r.weight_bps / 100).toFixed(2).replace(/\.?0+$/u, "")}% of deployment ${r.deployment_id}`)
    .join(", ");
  const liveOnly = stored.length === 0;
  return new GreenticError(
    "conflict",
    liveOnly
      ? `cannot ${verb} revision ${revisionId}: the environment's router still sends it ${where}, although the store's split no longer does`
      : `cannot ${verb} revision ${revisionId}: it still carries ${where}`,
    {
      hint: liveOnly
        ? "run `op traffic show` (or `op status`) to bring the router in line with the store, then retry"
        : "move its traffic to another revision first (`op traffic set` or `op traffic rollback`), then retry",
      details: { code: "revision-carries-traffic", revision_id: revisionId, references: refs },
    },
  );
}

/**
 * `op revisions drain`: ready → draining, then the deployer stops taking traffic and stops the
 * process. Refused (`conflict`) while a split, in the store or applied by the deployer, still
 * sends the revision requests.
 */
export async function revisionsDrain(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<RevisionResult>> {
  const payload = await parseAnswers("revisions drain", answers, options);
  const { engine } = await answersEntry();
  const envId = payload.environment_id;
  const { environment } = await ctx.store.load(envId);
  const { deployer, hctx } = await deployerOf(ctx, environment);
  // The live side first converges to the store (a crash may have left the router behind), so
  // that the guard below sees what the router will really serve.
  await reconcileTraffic(ctx, environment, { deployer, hctx }).catch(() => undefined);
  const live = await trafficReferences(environment, payload.revision_id, deployer, hctx);
  const outcome = await mutate(ctx, {
    envId,
    noun: "revisions",
    verb: "drain",
    payload,
    options,
    transform: (current, tx) => {
      const env = required(current, envId);
      // Checked again on the state being committed: a split set since the load counts.
      const refs = [
        ...env.traffic_splits.flatMap((s) =>
          s.entries
            .filter((e) => e.revision_id === payload.revision_id && e.weight_bps > 0)
            .map((e) => ({ deployment_id: s.deployment_id, weight_bps: e.weight_bps, source: "stored" as const })),
        ),
        ...live.filter((r) => r.source === "live"),
      ];
      if (refs.length > 0 && env.revisions.some((r) => r.revision_id === payload.revision_id))
        throw carriesTrafficError("drain", payload.revision_id, refs);
      return engine.drainRevision(env, payload, tx);
    },
  });
  // Runs on a replay too: a retry with the same key finishes a drain whose process stop failed.
  await deployer.drain(hctx, refOf(outcome.result.revision));
  return withCommit(outcome);
}

/**
 * `op revisions archive`: refused (`conflict`) while a traffic split, in the store or applied by
 * the deployer, references the revision; then the deployer stops anything left and removes the
 * staged files.
 */
export async function revisionsArchive(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<RevisionResult>> {
  const payload = await parseAnswers("revisions archive", answers, options);
  const { engine } = await answersEntry();
  const envId = payload.environment_id;
  const { environment } = await ctx.store.load(envId);
  const { deployer, hctx } = await deployerOf(ctx, environment);
  // The live side first converges to the store (a crash may have left the router behind), so
  // that the guard below sees what the router will really serve.
  await reconcileTraffic(ctx, environment, { deployer, hctx }).catch(() => undefined);
  const live = (await trafficReferences(environment, payload.revision_id, deployer, hctx)).filter(
    (r) => r.source === "live",
  );
  const outcome = await mutate(ctx, {
    envId,
    noun: "revisions",
    verb: "archive",
    payload,
    options,
    transform: (current, tx) => {
      // The engine refuses stored references itself (naming them); the live ones are ours to check.
      const archived = engine.archiveRevision(required(current, envId), payload, tx);
      if (live.length > 0) throw carriesTrafficError("archive", payload.revision_id, live);
      return archived;
    },
  });
  try {
    await deployer.archive(hctx, refOf(outcome.result.revision));
  } catch (error) {
    // Never staged on this host (or already forgotten): there is nothing to stop.
    if (!(error instanceof GreenticError && error.kind === "not-found")) throw error;
  }
  return withCommit(outcome);
}

/** `op revisions list <env> [--deployment]`. */
export async function revisionsList(
  ctx: OperationsContext,
  envId: string,
  filter: { deploymentId?: string | undefined; label?: string | undefined } = {},
): Promise<RevisionsListResult> {
  const id = checkEnvArgument(envId);
  const { environment } = await ctx.store.load(id);
  const deploymentId =
    filter.deploymentId === undefined
      ? undefined
      : resolveDeploymentRef(environment, filter.deploymentId, { label: filter.label }).deployment_id;
  const revisions = environment.revisions.filter((r) => deploymentId === undefined || r.deployment_id === deploymentId);
  const listed = new Set(revisions.map((r) => r.revision_id));
  const traffic_bps: Record<string, number> = {};
  for (const split of environment.traffic_splits)
    for (const e of split.entries) if (listed.has(e.revision_id)) traffic_bps[e.revision_id] = e.weight_bps;
  const urls: Record<string, string> = {};
  const live: Record<string, "running" | "down" | "stopped"> = {};
  if (revisions.length > 0 && environment.packs.some((p) => p.slot === "deployer")) {
    const { deployer, hctx } = await deployerOf(ctx, environment);
    for (const st of await deployer.status(hctx)) {
      if (!listed.has(st.revision_id)) continue;
      live[st.revision_id] = st.state === "failed" ? "down" : st.state;
      if (st.state === "running" && st.url !== undefined) urls[st.revision_id] = st.url;
    }
  }
  return { environment_id: id, revisions, traffic_bps, urls, live };
}

/**
 * `op revisions show <env> <revision>`: the revision is any reference {@link resolveRevisionRef}
 * accepts (id, unique prefix, `@N`, `latest`, `previous`, `stable`).
 */
export async function revisionsShow(
  ctx: OperationsContext,
  envId: string,
  reference: string,
  options: { deployment?: string | undefined; label?: string | undefined; deploymentLabel?: string | undefined } = {},
): Promise<RevisionShowResult> {
  const id = checkEnvArgument(envId);
  parseRevisionRef(reference, { label: options.label });
  const { environment } = await ctx.store.load(id);
  const deployment =
    options.deployment === undefined
      ? undefined
      : resolveDeploymentRef(environment, options.deployment, { label: options.deploymentLabel });
  const revision = resolveRevisionRef(environment, reference, {
    label: options.label,
    deployment,
    deploymentLabel: options.deploymentLabel,
  });
  const revisionId = revision.revision_id;
  const traffic = environment.traffic_splits.flatMap((s) =>
    s.entries
      .filter((e) => e.revision_id === revisionId)
      .map((e) => ({ deployment_id: s.deployment_id, weight_bps: e.weight_bps })),
  );
  let runtime: RevisionRuntimeStatus | null = null;
  if (environment.packs.some((p) => p.slot === "deployer")) {
    const { deployer, hctx } = await deployerOf(ctx, environment);
    runtime = (await deployer.status(hctx)).find((s) => s.revision_id === revisionId) ?? null;
  }
  return { environment_id: id, revision, traffic, runtime };
}

/** `op revisions tag|untag` result: the revision as tagged now. */
export type TagResult = Mutated<TagRevisionResult>;

/**
 * `op revisions tag`: gives a revision a tag, unique within its deployment, usable afterwards
 * wherever a revision reference is taken. A tag held by another revision of the deployment is
 * a `conflict` naming it unless `move` takes it over. Nothing outside the store changes.
 */
export async function revisionsTag(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<TagResult> {
  const payload = await parseAnswers("revisions tag", answers, options);
  const { engine } = await answersEntry();
  const envId = payload.environment_id;
  const outcome = await mutate(ctx, {
    envId,
    noun: "revisions",
    verb: "tag",
    payload,
    options,
    target: { revision_id: payload.revision_id, tag: payload.tag },
    // Tagging a revision with a tag it has changes nothing: no commit, no audit event.
    quietNoop: true,
    transform: (current, tx) => engine.tagRevision(required(current, envId), payload, tx),
  });
  return withCommit(outcome);
}

/**
 * `op revisions untag`: removes a tag from the revision that has it. The tag is looked up as a
 * revision reference (in `deployment_id` when given), so an unknown tag, or one that revisions
 * of several deployments have, is `invalid-argument` listing the candidates.
 */
export async function revisionsUntag(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<TagResult> {
  const payload = await parseAnswers("revisions untag", answers, options);
  const { engine } = await answersEntry();
  const envId = payload.environment_id;
  const outcome = await mutate(ctx, {
    envId,
    noun: "revisions",
    verb: "untag",
    payload,
    options,
    target: { tag: payload.tag },
    transform: (current, tx) => {
      const env = required(current, envId);
      const deployment =
        payload.deployment_id === undefined
          ? undefined
          : resolveDeploymentRef(env, payload.deployment_id, { label: "deployment_id" });
      const revision = resolveRevisionRef(env, payload.tag, { label: "tag", deployment });
      return engine.untagRevision(
        env,
        { environment_id: envId, revision_id: revision.revision_id, tag: payload.tag },
        tx,
      );
    },
  });
  return withCommit(outcome);
}
