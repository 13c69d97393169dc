import type { EnvironmentHostConfig, UpdateEnvironmentResult } from "@greentic/deploy-spec";
import { answersEntry, checkEnvArgument, mutate, parseAnswers, withCommit, type OperationsContext } from "./context.js";
import { required } from "./lookups.js";
import type { Mutated, MutationOptions } from "./types.js";

/** `op config show <env>`: name, host config and bindings; slot answers are not shown (only whether a slot has them). */
export interface ConfigShowResult {
  environment_id: string;
  name: string;
  host_config: EnvironmentHostConfig;
  packs: { slot: string; kind: string; generation: number; answers_ref?: string }[];
  etag: string;
  generation: number;
}

/** `op config show <env>`. */
export async function configShow(ctx: OperationsContext, envId: string): Promise<ConfigShowResult> {
  const id = checkEnvArgument(envId);
  const { environment, etag, generation } = await ctx.store.load(id);
  return {
    environment_id: id,
    name: environment.name,
    host_config: environment.host_config,
    packs: environment.packs.map((p) => ({
      slot: p.slot,
      kind: p.kind,
      generation: p.generation,
      ...(p.answers_ref === undefined ? {} : { answers_ref: p.answers_ref }),
    })),
    etag,
    generation,
  };
}

/** `op config set`: sets the name and host-config fields given (plain values, no clearing). */
export async function configSet(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<UpdateEnvironmentResult>> {
  const payload = await parseAnswers("config set", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "config",
    verb: "set",
    payload,
    options,
    transform: (current, tx) => engine.setConfig(required(current, payload.environment_id), payload, tx),
  });
  return withCommit(outcome);
}
