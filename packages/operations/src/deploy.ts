import {
  GreenticError,
  type BundleDeployment,
  type Environment,
  type RouteBinding,
} from "@greentic/deploy-spec/documents";
import { isUnbound, newRouteCollisions, normalisePathPrefix, routeScore } from "@greentic/deploy-spec/routes";
import { checkBundleContent } from "./bundle-check.js";
import { bundlesAdd, bundlesRemove, bundlesUpdate } from "./bundles.js";
import { answersEntry, parseAnswers, progress, type OperationsContext } from "./context.js";
import { type PruneResult, revisionsPrune } from "./prune.js";
import { checkBundleFile, revisionsArchive, revisionsStage, revisionsWarm } from "./revisions.js";
import { trafficSet } from "./traffic.js";
import { boundCurl } from "./url-routing.js";
import type { MutationOptions } from "./types.js";

/** `op deploy` result. */
export interface DeployResult {
  environment_id: string;
  bundle_id: string;
  customer_id: string;
  deployment_id: string;
  /** True when this deploy added the bundle deployment. */
  created_deployment: boolean;
  /** The new revision, now `ready` with `traffic_bps` (default 100 %) of the deployment's traffic. */
  revision_id: string;
  /**
   * True when a `ready` revision of the deployment already held this exact bundle (same
   * digest): it was reused (confirmed running) instead of staging and starting another one.
   */
  reused_revision: boolean;
  /** The new revision's share, in basis points. */
  traffic_bps: number;
  /** Where the new revision itself answers (from the deployer), or null when the deployer gives none. */
  url: string | null;
  /**
   * The environment's URL (the deployer's router), which follows the traffic split: after the
   * deploy it serves the new revision. Null when the deployer has no router.
   */
  environment_url: string | null;
  /**
   * When the deployment's route binding does not claim the bare environment URL (its own host,
   * `/`), which answers 404 then: the request that reaches it, as a curl command line.
   */
  environment_url_curl?: string;
  /** The revision that had the most traffic before; kept `ready` for `op traffic rollback`. */
  previous_revision_id?: string;
  /** Revisions archived afterwards by the environment's retention policy (`retention.keep_revisions`). */
  pruned_revisions?: string[];
}

/**
 * After a failed warm or traffic step: archives the revision this deploy staged (or took over)
 * when it is still `staged` or `warming` and takes no traffic, so that no half-made revision
 * stays behind. A `failed` revision (its health gate failed) is kept: it records why. Best
 * effort: when this cannot take the lock either (another writer holds it), the revision stays
 * `staged` and the next deploy of the same bundle takes it over.
 */
async function discardUnfinished(ctx: OperationsContext, envId: string, revisionId: string): Promise<void> {
  try {
    const { environment } = await ctx.store.load(envId);
    const revision = environment.revisions.find((r) => r.revision_id === revisionId);
    if (revision === undefined || (revision.lifecycle !== "staged" && revision.lifecycle !== "warming")) return;
    const carries = environment.traffic_splits.some((s) => s.entries.some((e) => e.revision_id === revisionId));
    if (carries) return;
    progress(ctx, "deploy.cleanup", `archiving revision ${revisionId}, which this deploy could not finish`, {
      revision_id: revisionId,
    });
    await revisionsArchive(ctx, { environment_id: envId, revision_id: revisionId });
  } catch {
    // Left for the next deploy to take over (see `adoptable` in deploy).
  }
}

/** Sub-key of a deploy's idempotency key for one of its steps (each step is its own transaction). */
function stepKey(key: string | undefined, step: string): string | undefined {
  return key === undefined ? undefined : `${key}:${step}`;
}

/**
 * Refuses, before anything is written, a deploy whose deployment, once it takes traffic with
 * its binding, would claim the same requests as another deployment with traffic (the store
 * refuses that state at the traffic step too, but by then a revision is staged and started).
 * The same rule as the store's ({@link newRouteCollisions}), said in the deploy's words.
 */
function checkServedRoute(
  environment: Environment,
  args: {
    envId: string;
    bundleId: string;
    customerId: string;
    bundlePath: string;
    deployment: BundleDeployment | undefined;
    routeBinding: RouteBinding | undefined;
  },
): void {
  const { envId, bundleId, customerId, deployment } = args;
  // A deployment this deploy adds has no id yet: a placeholder stands for it.
  const id = deployment?.deployment_id ?? "(new deployment)";
  const binding = args.routeBinding ?? deployment?.route_binding ?? { hosts: [], path_prefixes: [] };
  const after = {
    environment_id: envId,
    bundles: [
      ...environment.bundles.filter((b) => b.deployment_id !== id),
      { deployment_id: id, bundle_id: bundleId, route_binding: binding },
    ],
    traffic_splits: [
      ...environment.traffic_splits.filter((s) => s.deployment_id !== id),
      { deployment_id: id, entries: [{ weight_bps: 10_000 }] },
    ],
  };
  const clash = newRouteCollisions(environment, after).find(
    (c) => c.deployment_id === id || c.other_deployment_id === id,
  );
  if (clash === undefined) return;
  const other = environment.bundles.find(
    (b) => b.deployment_id === (clash.deployment_id === id ? clash.other_deployment_id : clash.deployment_id),
  )!;
  const claims = (b: { hosts: readonly string[]; path_prefixes: readonly string[] }) =>
    isUnbound(b)
      ? "with no route binding"
      : `with route binding ${JSON.stringify({ hosts: b.hosts, path_prefixes: b.path_prefixes })}`;
  const where =
    clash.host === null && clash.path_prefix === "/"
      ? "every request"
      : `${clash.host === null ? "any host" : `host ${clash.host}`} and path prefix ${clash.path_prefix}`;
  const target = deployment === undefined ? "" : ` to deployment ${deployment.deployment_id}`;
  throw new GreenticError(
    "conflict",
    `deploying bundle ${bundleId} for customer ${customerId}${target} ${claims(binding)} would collide with deployment ${other.deployment_id} (bundle ${other.bundle_id}), which environment ${envId} serves ${claims(other.route_binding)}: both would claim ${where}`,
    {
      path: "route_binding",
      hint: `give ${deployment === undefined ? "the new deployment" : `deployment ${deployment.deployment_id}`} a route binding (op deploy --bundle ${args.bundlePath}${deployment === undefined ? " --new-deployment" : ""} --host HOST or --path-prefix /PREFIX), or bind deployment ${other.deployment_id} first with \`op bundles update\``,
      details: {
        code: "route-collision",
        bundle_id: bundleId,
        customer_id: customerId,
        ...(deployment === undefined ? {} : { deployment_id: deployment.deployment_id }),
        other_deployment_id: other.deployment_id,
        host: clash.host,
        path_prefix: clash.path_prefix,
      },
    },
  );
}

/**
 * `op deploy`: one shot. Checks the bundle file completely first (manifest, content digest,
 * safe extraction, leak scan), so a refused bundle changes nothing. The bundle id is the
 * manifest's (`bundle_id` in the answers may only confirm it). Adds the bundle deployment if
 * `(bundle_id, customer_id)` is new (the `local` environment defaults the customer to
 * `local-dev`); when another deployment already has traffic, that needs `new_deployment`.
 * Stages the bundle, warms it through the deployer's health gate, and moves 100 % of the
 * traffic to it; a `ready` revision with the same bundle digest is reused instead. The
 * previous revision stays `ready`, so `op traffic rollback` goes back to it. A `staged`
 * revision of the same bytes, left by a deploy that died or lost its lock, is taken over instead
 * of staging again; when warming or moving traffic fails, the revision this deploy staged is
 * archived (see {@link discardUnfinished}). Then the
 * environment's retention policy, when it sets `keep_revisions`, prunes older revisions. With
 * an idempotency key every step is retried safely (a failed deploy can be re-run with the same key).
 *
 * The caller's precondition guards the first write, whichever it is: adding or updating the
 * bundle (a store transaction: refused with nothing written), or staging, which checks the
 * pin and its step key before copying anything; warming checks its step key before starting
 * the runtime. So a stale pin or a reused key leaves no files and starts no process.
 */
export async function deploy(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<DeployResult> {
  const payload = await parseAnswers("deploy run", answers, options);
  const { LOCAL_CUSTOMER_ID } = await answersEntry();
  const envId = payload.environment_id;
  if (payload.customer_id === undefined && envId !== "local") {
    throw new GreenticError("invalid-argument", `customer_id is required to deploy to environment ${envId}`, {
      path: "customer_id",
      hint: `only the local environment defaults it to ${LOCAL_CUSTOMER_ID}`,
    });
  }
  // Input first, before anything is looked up or written.
  const file = await checkBundleFile(payload.bundle_path, "bundle_path", options.source);
  progress(ctx, "deploy.check", `checking ${payload.bundle_path}`, { bundle_path: payload.bundle_path });
  const bundle = await checkBundleContent(file, payload.bundle_path);
  const key = options.idempotencyKey ?? payload.idempotency_key;
  const bundleId = bundle.bundle_id;
  if (payload.bundle_id !== undefined && payload.bundle_id !== bundleId) {
    throw new GreenticError(
      "invalid-argument",
      `bundle_id ${JSON.stringify(payload.bundle_id)} does not match the bundle: the manifest of ${payload.bundle_path} names ${JSON.stringify(bundleId)}`,
      {
        path: "bundle_id",
        hint: `leave bundle_id out (the manifest's id is used), or rebuild the bundle with --bundle-id ${payload.bundle_id}`,
        details: { code: "bundle-id-mismatch", given: payload.bundle_id, manifest: bundleId },
      },
    );
  }
  const customerId = payload.customer_id ?? LOCAL_CUSTOMER_ID;
  let routeBinding: RouteBinding | undefined = payload.route_binding;
  if (payload.tenant_selector !== undefined)
    routeBinding = { hosts: [], path_prefixes: [], ...routeBinding, tenant_selector: payload.tenant_selector };

  const { environment } = await ctx.store.load(envId);
  const share = payload.traffic_bps ?? 10_000;
  if (share < 10_000) {
    // A canary needs a stable revision to keep the rest: checked before anything is written.
    const existing = environment.bundles.find((b) => b.bundle_id === bundleId && b.customer_id === customerId);
    const split = existing && environment.traffic_splits.find((s) => s.deployment_id === existing.deployment_id);
    if (!split || split.entries.every((e) => e.weight_bps === 0)) {
      throw new GreenticError(
        "precondition-failed",
        `--traffic ${share / 100}%: bundle ${bundleId} has no revision taking traffic in ${envId} to keep the other ${(10_000 - share) / 100}%`,
        {
          path: "traffic_bps",
          hint: "deploy the first revision without --traffic (it takes 100%), then deploy the next one with --traffic",
        },
      );
    }
  }
  // The caller's precondition pins the state it read: it guards the first write only.
  let precondition = options.precondition;
  const firstWrite = () => {
    const pinned = precondition;
    precondition = undefined;
    return pinned;
  };
  let deployment = environment.bundles.find((b) => b.bundle_id === bundleId && b.customer_id === customerId);
  const created = deployment === undefined;
  // The deployments the environment URL serves now (a split with weight).
  const serving = environment.traffic_splits
    .filter((s) => s.entries.some((e) => e.weight_bps > 0))
    .map((s) => environment.bundles.find((b) => b.deployment_id === s.deployment_id))
    .filter((b) => b !== undefined);
  if (deployment === undefined && payload.new_deployment !== true) {
    // A second deployment with traffic changes what the environment URL serves: say so.
    if (serving.length > 0) {
      const names = serving.map((b) => `${b.bundle_id} (customer ${b.customer_id}, deployment ${b.deployment_id})`);
      throw new GreenticError(
        "conflict",
        `environment ${envId} already serves ${names.join(", ")}; deploying bundle ${bundleId} for customer ${customerId} would add a second deployment beside it`,
        {
          path: "new_deployment",
          hint: `to replace what is served, deploy a bundle whose manifest names ${serving[0]!.bundle_id}; to run both, pass --new-deployment (new_deployment: true) with a route binding (--host / --path-prefix) for each`,
          details: {
            code: "new-deployment-required",
            bundle_id: bundleId,
            customer_id: customerId,
            serving: serving.map((b) => b.deployment_id),
          },
        },
      );
    }
  }
  checkServedRoute(environment, {
    envId,
    bundleId,
    customerId,
    bundlePath: payload.bundle_path,
    deployment,
    routeBinding,
  });
  if (deployment === undefined) {
    progress(ctx, "deploy.bundle", `adding bundle ${bundleId} for customer ${customerId}`, { bundle_id: bundleId });
    const added = await bundlesAdd(
      ctx,
      {
        environment_id: envId,
        bundle_id: bundleId,
        customer_id: customerId,
        ...(routeBinding === undefined ? {} : { route_binding: routeBinding }),
        ...(payload.revenue_share === undefined ? {} : { revenue_share: payload.revenue_share }),
        ...(payload.config_overrides === undefined ? {} : { config_overrides: payload.config_overrides }),
      },
      { idempotencyKey: stepKey(key, "bundles-add"), precondition: firstWrite() },
    );
    deployment = added.deployment;
  } else if (
    routeBinding !== undefined ||
    payload.revenue_share !== undefined ||
    payload.config_overrides !== undefined
  ) {
    progress(ctx, "deploy.bundle", `updating bundle ${bundleId} for customer ${customerId}`, { bundle_id: bundleId });
    const updated = await bundlesUpdate(
      ctx,
      {
        environment_id: envId,
        deployment_id: deployment.deployment_id,
        ...(routeBinding === undefined ? {} : { route_binding: routeBinding }),
        ...(payload.revenue_share === undefined ? {} : { revenue_share: payload.revenue_share }),
        ...(payload.config_overrides === undefined ? {} : { config_overrides: payload.config_overrides }),
      },
      { idempotencyKey: stepKey(key, "bundles-update"), precondition: firstWrite() },
    );
    deployment = updated.deployment;
  }
  const deploymentId = deployment.deployment_id;
  const previousSplit = environment.traffic_splits.find((s) => s.deployment_id === deploymentId);
  const previous = previousSplit?.entries.reduce((best, e) => (e.weight_bps > best.weight_bps ? e : best));

  // Retention: the same bundle bytes already run as a ready revision of this deployment.
  const reusable = environment.revisions
    .filter((r) => r.deployment_id === deploymentId && r.lifecycle === "ready" && r.bundle_digest === bundle.digest)
    .sort((a, b) => b.sequence - a.sequence)[0];
  // A deploy of these bytes that died or lost its lock after staging left a `staged` revision:
  // this deploy takes it over instead of staging another beside it.
  const adoptable =
    reusable === undefined
      ? environment.revisions
          .filter(
            (r) => r.deployment_id === deploymentId && r.lifecycle === "staged" && r.bundle_digest === bundle.digest,
          )
          .sort((a, b) => b.sequence - a.sequence)[0]
      : undefined;
  let revisionId: string;
  // The revision this deploy staged or took over: cleaned up if a later step fails.
  let owned: string | undefined;
  if (reusable !== undefined) {
    revisionId = reusable.revision_id;
    progress(ctx, "deploy.reuse", `revision ${revisionId} already holds this bundle (${bundle.digest}); reusing it`, {
      revision_id: revisionId,
    });
  } else if (adoptable !== undefined) {
    revisionId = adoptable.revision_id;
    owned = revisionId;
    progress(
      ctx,
      "deploy.adopt",
      `revision ${revisionId} (@${adoptable.sequence}) was staged from this bundle by an earlier deploy that did not finish; warming it`,
      { revision_id: revisionId },
    );
  } else {
    progress(ctx, "deploy.stage", `staging ${payload.bundle_path}`, { deployment_id: deploymentId });
    let staged;
    try {
      const stage = (step: string) =>
        revisionsStage(
          ctx,
          { environment_id: envId, deployment_id: deploymentId, bundle_path: payload.bundle_path },
          { idempotencyKey: stepKey(key, step), precondition: firstWrite(), source: options.source },
          { contentChecked: true },
        );
      staged = await stage("stage");
      // A retry whose first attempt staged, then failed and archived that revision (see
      // discardUnfinished): the replayed stage names an archived revision, so stage afresh.
      const first = staged.revision.revision_id;
      const now = (await ctx.store.load(envId)).environment.revisions.find((r) => r.revision_id === first);
      if (key !== undefined && now?.lifecycle === "archived") staged = await stage(`stage-after-${first}`);
    } catch (error) {
      // A deployment this deploy added and that got no revision must not stay behind.
      if (created)
        await bundlesRemove(ctx, { environment_id: envId, deployment_id: deploymentId }).catch(() => undefined);
      throw error;
    }
    revisionId = staged.revision.revision_id;
    owned = revisionId;
  }

  let warmed: Awaited<ReturnType<typeof revisionsWarm>>;
  let moved: Awaited<ReturnType<typeof trafficSet>>;
  const canary = share < 10_000 && previous !== undefined && previous.revision_id !== revisionId;
  try {
    // On a reused revision this re-confirms it with the deployer (a stopped process is started again).
    progress(ctx, "deploy.warm", `warming revision ${revisionId}`, { revision_id: revisionId });
    warmed = await revisionsWarm(
      ctx,
      { environment_id: envId, revision_id: revisionId },
      // Reusing or adopting, this is the first write: the caller's pin guards it.
      {
        idempotencyKey: stepKey(key, reusable === undefined ? "warm" : `warm-${revisionId}`),
        precondition: firstWrite(),
      },
    );
    progress(ctx, "deploy.traffic", `moving ${canary ? share / 100 : 100}% of the traffic to revision ${revisionId}`, {
      revision_id: revisionId,
    });
    moved = await trafficSet(ctx, {
      environment_id: envId,
      deployment_id: deploymentId,
      entries: canary
        ? [
            { revision_id: previous.revision_id, weight_bps: 10_000 - share },
            { revision_id: revisionId, weight_bps: share },
          ]
        : [{ revision_id: revisionId, weight_bps: 10_000 }],
      idempotency_key: stepKey(key, "traffic") ?? `deploy-${revisionId}`,
      updated_by: "op deploy",
    });
  } catch (error) {
    if (owned !== undefined) await discardUnfinished(ctx, envId, owned);
    throw error;
  }

  const result: DeployResult = {
    environment_id: envId,
    bundle_id: bundleId,
    customer_id: customerId,
    deployment_id: deploymentId,
    created_deployment: created,
    revision_id: revisionId,
    reused_revision: reusable !== undefined,
    traffic_bps: canary ? share : 10_000,
    url: warmed.url ?? null,
    environment_url: moved.environment_url,
  };
  if (previous !== undefined && previous.revision_id !== revisionId) result.previous_revision_id = previous.revision_id;
  const binding = deployment.route_binding;
  if (
    result.environment_url !== null &&
    routeScore(
      { hosts: binding.hosts.map((h) => h.toLowerCase()), prefixes: binding.path_prefixes.map(normalisePathPrefix) },
      new URL(result.environment_url).host,
      "/",
    ) === undefined
  )
    result.environment_url_curl = boundCurl(result.environment_url, deployment);
  const keep = environment.retention.keep_revisions;
  if (keep !== undefined && keep > 0) {
    const prune: PruneResult = await revisionsPrune(
      ctx,
      { environment_id: envId, deployment_id: deploymentId, keep },
      { idempotencyKey: stepKey(key, "prune") },
    );
    if (prune.pruned.length > 0) result.pruned_revisions = prune.pruned.map((p) => p.revision_id);
  }
  progress(ctx, "deploy.done", `revision ${revisionId} serves ${result.environment_url ?? result.url ?? "(no url)"}`, {
    revision_id: revisionId,
    url: result.url,
    environment_url: result.environment_url,
  });
  return result;
}
