import type { AuditEvent, Environment, LifecycleState } from "@greentic/deploy-spec";
import type { Deployer, HandlerContext, RevisionMetricsReport, RevisionRuntimeStatus } from "@greentic/env-packs";
import { checkEnvArgument, progress, type OperationsContext } from "./context.js";
import { deployerOf, routeOf } from "./lookups.js";
import { routerOf, type EnvRouterInfo } from "./router.js";
import { urlRouting } from "./url-routing.js";

/** One split entry (basis points). */
export interface SplitWeight {
  revision_id: string;
  weight_bps: number;
}

/** A deployment whose split in the store differs from what the deployer serves. */
export interface TrafficDrift {
  deployment_id: string;
  /** What the operator asked for (the store); empty when the store has no split. */
  desired: SplitWeight[];
  /** What the deployer serves; empty when it serves nothing for the deployment. */
  live: SplitWeight[];
}

const key = (entries: readonly SplitWeight[]) =>
  entries
    .filter((e) => e.weight_bps > 0)
    .map((e) => `${e.revision_id}=${e.weight_bps}`)
    .sort()
    .join(",");

/**
 * Desired traffic (the store's splits) against live traffic (what the deployer applies). A
 * deployer that cannot say what it applies reports no drift.
 */
export async function trafficDrift(
  env: Environment,
  deployer: Deployer,
  hctx: HandlerContext,
): Promise<TrafficDrift[]> {
  const applied = await deployer.runtimeConfig(hctx).catch(() => undefined);
  if (applied === undefined) return [];
  const live = new Map<string, SplitWeight[]>();
  for (const r of applied.revisions) {
    const list = live.get(r.deployment_id) ?? [];
    list.push({ revision_id: r.revision_id, weight_bps: r.weight_bps });
    live.set(r.deployment_id, list);
  }
  const out: TrafficDrift[] = [];
  const ids = new Set([...env.traffic_splits.map((s) => s.deployment_id), ...live.keys()]);
  for (const id of [...ids].sort()) {
    const desired = (env.traffic_splits.find((s) => s.deployment_id === id)?.entries ?? []).map(
      ({ revision_id, weight_bps }) => ({ revision_id, weight_bps }),
    );
    const served = live.get(id) ?? [];
    if (key(desired) !== key(served)) out.push({ deployment_id: id, desired, live: served });
  }
  return out;
}

/**
 * Brings the deployer's live traffic in line with the store: every stored split that the
 * deployer does not serve as stored is applied again. This repairs a crash between a store
 * commit and the deployer update (`op traffic set` killed half-way). Returns the drift found
 * (and repaired); a split that cannot be applied stays in the drift and its error is reported
 * as a progress event, not thrown, so a read still answers.
 */
export async function reconcileTraffic(
  ctx: OperationsContext,
  env: Environment,
  bound?: { deployer: Deployer; hctx: HandlerContext },
): Promise<{ repaired: TrafficDrift[]; remaining: TrafficDrift[] }> {
  if (!env.packs.some((p) => p.slot === "deployer")) return { repaired: [], remaining: [] };
  const { deployer, hctx } = bound ?? (await deployerOf(ctx, env));
  const drift = await trafficDrift(env, deployer, hctx);
  const repaired: TrafficDrift[] = [];
  const remaining: TrafficDrift[] = [];
  for (const d of drift) {
    const split = env.traffic_splits.find((s) => s.deployment_id === d.deployment_id);
    if (split === undefined) {
      remaining.push(d);
      continue;
    }
    try {
      progress(
        ctx,
        "traffic.reconcile",
        `the router served another split for deployment ${d.deployment_id}; applying the stored one`,
        {
          deployment_id: d.deployment_id,
        },
      );
      await deployer.applyTrafficSplit(hctx, {
        split: {
          deployment_id: split.deployment_id,
          bundle_id: split.bundle_id,
          entries: split.entries,
          generation: split.generation,
          route: routeOf(env, split.deployment_id),
        },
        revisions: env.revisions.map((r) => ({
          revision_id: r.revision_id,
          deployment_id: r.deployment_id,
          bundle_id: r.bundle_id,
        })),
      });
      repaired.push(d);
    } catch (error) {
      progress(ctx, "traffic.reconcile-failed", (error as Error).message, { deployment_id: d.deployment_id });
      remaining.push(d);
    }
  }
  return { repaired, remaining };
}

/** A revision as `op status` shows it. */
export interface StatusRevision {
  revision_id: string;
  deployment_id: string;
  sequence: number;
  lifecycle: LifecycleState;
  /**
   * From the deployer: `running` (process alive and ready), `not-ready` (alive, /ready fails),
   * `down` (its process is gone), `stopped` (not started), `unknown` (the deployer has no record).
   */
  live: "running" | "not-ready" | "down" | "stopped" | "unknown";
  /** Its share of its deployment's split in the store, in basis points. */
  weight_bps: number;
  restarts: number;
  /** Requests the router sent to it since the router started; null when the deployer does not count them. */
  requests: number | null;
  /** Of those, answers with status 500–599 (the router's own 502/504 for it included). */
  errors: number | null;
  pid: number | null;
  url: string | null;
  created_at: string;
  age_seconds: number;
}

/** A deployment as `op status` shows it. */
export interface StatusDeployment {
  deployment_id: string;
  bundle_id: string;
  customer_id: string;
  split: SplitWeight[];
}

/** `op status <env>` result: the page an operator opens first. */
export interface StatusResult {
  environment_id: string;
  generation: number;
  environment_url: string | null;
  router: EnvRouterInfo | null;
  deployments: StatusDeployment[];
  revisions: StatusRevision[];
  /** Deployments whose served split differs from the stored one (until a command or the supervisor repairs it). */
  drift: TrafficDrift[];
  /** Sentences: what is wrong now (empty when healthy). */
  problems: string[];
  /**
   * Sentences that are not problems: how the environment URL routes when its bare form (its own
   * host, `/`) is claimed by no route binding and answers 404 by design.
   */
  notes: string[];
  /** True when nothing is wrong: the URL serves, every revision with traffic runs and is ready, no drift. */
  healthy: boolean;
  audit: AuditEvent[];
}

function liveOf(runtime: RevisionRuntimeStatus | undefined): StatusRevision["live"] {
  if (runtime === undefined) return "unknown";
  if (runtime.state === "failed") return "down";
  if (runtime.state === "stopped") return "stopped";
  return runtime.ready === false ? "not-ready" : "running";
}

/**
 * `op status <env>`: the environment URL and its router, each deployment with its split, each
 * revision with its lifecycle (stored), its live state (process and readiness, from the
 * deployer), restarts and age, the drift between stored and served traffic, and the last audit
 * events. Read-only: drift is shown here, not repaired.
 */
export async function status(
  ctx: OperationsContext,
  envId: string,
  options: { auditLimit?: number } = {},
): Promise<StatusResult> {
  const id = checkEnvArgument(envId);
  const { environment: env, generation } = await ctx.store.load(id);
  let router: EnvRouterInfo | null = null;
  let runtimes: RevisionRuntimeStatus[] = [];
  let drift: TrafficDrift[] = [];
  let metrics: RevisionMetricsReport[] | undefined;
  const problems: string[] = [];
  if (env.packs.some((p) => p.slot === "deployer")) {
    try {
      const { deployer, hctx } = await deployerOf(ctx, env);
      [router, runtimes, drift, metrics] = await Promise.all([
        routerOf(deployer, hctx),
        deployer.status(hctx, { probe: true }),
        trafficDrift(env, deployer, hctx),
        deployer.revisionMetrics?.(hctx, { sinceMs: 0 }).catch(() => undefined),
      ]);
    } catch (error) {
      problems.push(`The deployer cannot report what runs: ${(error as Error).message}`);
    }
  }
  const now = Date.now();
  const revisions: StatusRevision[] = env.revisions
    .filter((r) => r.lifecycle !== "archived")
    .map((r) => {
      const runtime = runtimes.find((s) => s.revision_id === r.revision_id);
      const counted = metrics?.find((m) => m.revision_id === r.revision_id);
      const weight =
        env.traffic_splits
          .find((s) => s.deployment_id === r.deployment_id)
          ?.entries.find((e) => e.revision_id === r.revision_id)?.weight_bps ?? 0;
      return {
        revision_id: r.revision_id,
        deployment_id: r.deployment_id,
        sequence: r.sequence,
        lifecycle: r.lifecycle,
        live: liveOf(runtime),
        weight_bps: weight,
        restarts: runtime?.restarts ?? 0,
        // A deployer that counts but saw no request for the revision: 0, not unknown.
        requests: metrics === undefined ? null : (counted?.requests ?? 0),
        errors: metrics === undefined ? null : (counted?.errors_5xx ?? 0),
        pid: runtime?.pid ?? null,
        url: runtime?.url ?? null,
        created_at: r.created_at,
        age_seconds: Math.max(0, Math.round((now - Date.parse(r.created_at)) / 1000)),
      };
    });
  const serving = env.traffic_splits.some((s) => s.entries.some((e) => e.weight_bps > 0));
  if (serving && router !== null && router.url === null)
    problems.push(
      `The environment URL does not answer: its router is ${router.state === "failed" ? `down (pid ${router.pid})` : "not running"}.`,
    );
  for (const r of revisions) {
    if (r.weight_bps > 0 && r.live !== "running")
      problems.push(
        `Revision ${r.revision_id} carries ${r.weight_bps / 100}% of deployment ${r.deployment_id} but is ${r.live}.`,
      );
    else if (r.lifecycle === "ready" && (r.live === "down" || r.live === "not-ready"))
      problems.push(`Revision ${r.revision_id} is ready in the store but ${r.live}.`);
  }
  for (const d of drift)
    problems.push(
      `Deployment ${d.deployment_id}: the router serves ${key(d.live) || "nothing"} but the store asks for ${key(d.desired) || "nothing"} (the router applies the stored split within seconds; so does the next traffic command).`,
    );
  const routing = urlRouting(env, router?.url ?? null);
  problems.push(...routing.problems);
  const audit = (await ctx.store.listAudit(id, { limit: options.auditLimit ?? 5 }).catch(() => [])) as AuditEvent[];
  return {
    environment_id: id,
    generation,
    environment_url: router?.url ?? null,
    router,
    deployments: env.bundles.map((b) => ({
      deployment_id: b.deployment_id,
      bundle_id: b.bundle_id,
      customer_id: b.customer_id,
      split: (env.traffic_splits.find((s) => s.deployment_id === b.deployment_id)?.entries ?? []).map(
        ({ revision_id, weight_bps }) => ({ revision_id, weight_bps }),
      ),
    })),
    revisions,
    drift,
    problems,
    notes: routing.notes,
    healthy: problems.length === 0,
    audit,
  };
}
