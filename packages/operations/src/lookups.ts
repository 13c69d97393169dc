import { GreenticError, isUlid, type Environment } from "@greentic/deploy-spec/documents";
import type { Deployer, HandlerContext } from "@greentic/env-packs";
import { boundHandler, checkEnvArgument, handlerContext, type OperationsContext } from "./context.js";

// What verbs look up before they act: checked ids, the environment, its bound deployer. Kept
// apart from the verb files so that verbs import helpers, never each other.

/** `not-found` for an environment id. */
export function notFoundEnv(envId: string): GreenticError {
  return new GreenticError("not-found", `environment ${envId} does not exist`, {
    hint: "list environments with `op env list`, or create one with `op env init` / `op env create`",
    details: { environment_id: envId },
  });
}

/** A checked environment id that exists (`not-found` otherwise), for verbs that do not load it. */
export async function existingEnv(ctx: OperationsContext, envId: string): Promise<string> {
  const id = checkEnvArgument(envId);
  if (!(await ctx.store.exists(id))) throw notFoundEnv(id);
  return id;
}

/** The current document of a non-creating transaction (the store passes it when the env exists). */
export function required(current: Environment | undefined, envId: string): Environment {
  if (current === undefined) throw notFoundEnv(envId);
  return current;
}

/** Checks a positional ULID argument (`invalid-argument` when malformed). */
export function checkUlidArgument(value: unknown, field: string): string {
  if (!isUlid(value)) {
    throw new GreenticError("invalid-argument", `${field} ${JSON.stringify(value)} is not a ULID`, {
      path: field,
      hint: "ids are 26-character ULIDs, as printed by the list verbs",
    });
  }
  return value;
}

/** The bound deployer of a loaded environment and its handler context. */
export async function deployerOf(
  ctx: OperationsContext,
  env: Environment,
): Promise<{ deployer: Deployer; hctx: HandlerContext }> {
  const { handler } = await boundHandler(ctx, env, "deployer");
  if (handler.deployer === undefined) {
    throw new GreenticError("internal", `the deployer env-pack ${handler.descriptorPath} has no deployer capability`, {
      hint: "fix the env-pack plugin",
    });
  }
  const hctx = await handlerContext(ctx, env.environment_id, "deployer");
  if (env.host_config.public_base_url !== undefined) hctx.publicBaseUrl = env.host_config.public_base_url;
  return { deployer: handler.deployer, hctx };
}

/** The route binding a deployer routes a deployment's requests by (hosts, path prefixes). */
export function routeOf(env: Environment, deploymentId: string): { hosts: string[]; path_prefixes: string[] } {
  const binding = env.bundles.find((b) => b.deployment_id === deploymentId)?.route_binding;
  return { hosts: binding?.hosts ?? [], path_prefixes: binding?.path_prefixes ?? [] };
}
