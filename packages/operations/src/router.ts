import { GreenticError, type Environment } from "@greentic/deploy-spec/documents";
import type { Deployer, HandlerContext } from "@greentic/env-packs";
import type { OperationsContext } from "./context.js";
import { deployerOf } from "./lookups.js";

/** The environment's router (one URL that follows the traffic split), as `op env show` reports it. */
export interface EnvRouterInfo {
  /** `running`: serving; `stopped`: none started yet (or stopped); `failed`: its process is gone. */
  state: "running" | "stopped" | "failed";
  pid: number | null;
  /** The environment's URL, e.g. `http://127.0.0.1:41200/`; null while it does not serve. */
  url: string | null;
  /** How often its supervisor restarted the router after it died; null when nothing supervises it. */
  restarts: number | null;
}

/** The router of a deployer, or null when the deployer has none. */
export async function routerOf(deployer: Deployer, hctx: HandlerContext): Promise<EnvRouterInfo | null> {
  if (deployer.routerStatus === undefined) return null;
  const status = await deployer.routerStatus(hctx);
  return { state: status.state, pid: status.pid ?? null, url: status.url ?? null, restarts: status.restarts ?? null };
}

/**
 * The router of an environment's bound deployer; null when no deployer is bound, it has no
 * router, or it does not resolve (read-only verbs must still show a broken environment; doctor
 * reports why).
 */
export async function environmentRouter(ctx: OperationsContext, env: Environment): Promise<EnvRouterInfo | null> {
  if (!env.packs.some((p) => p.slot === "deployer")) return null;
  let bound;
  try {
    bound = await deployerOf(ctx, env);
  } catch (error) {
    if (error instanceof GreenticError) return null;
    throw error;
  }
  return routerOf(bound.deployer, bound.hctx);
}
