import { GreenticError, type CapabilitySlot, type EnvPackBinding } from "@greentic/deploy-spec/documents";
import type { BindingResult, EnvPacksAddAnswers } from "@greentic/deploy-spec";
import { answersEntry, checkEnvArgument, mutate, parseAnswers, type OperationsContext } from "./context.js";
import { required } from "./lookups.js";
import type { Mutated, MutationOptions } from "./types.js";

/** One row of `op env-packs list <env>`: the binding and what the registry makes of it. */
export interface EnvPackListEntry {
  slot: CapabilitySlot;
  kind: string;
  pack_ref: string;
  generation: number;
  answers_ref?: string;
  /** True when a one-step rollback is available. */
  has_previous: boolean;
  /** The registry's handler for the kind, or null with `problem` when it does not resolve. */
  handler: { descriptor_path: string; slot: CapabilitySlot; description: string } | null;
  problem?: { kind: string; code: string; message: string };
}

/** `op env-packs list <env>` result. */
export interface EnvPackListResult {
  environment_id: string;
  packs: EnvPackListEntry[];
}

/**
 * Result of the env-packs mutations. The binding's own generations are renamed so that
 * `generation` (like in every mutation result) is the environment's.
 */
export interface EnvPackMutationResult {
  binding: EnvPackBinding;
  /** The binding's generation after the verb (for remove: the generation it had). */
  binding_generation: number;
  /** The binding's generation before the verb; null for add. */
  previous_binding_generation: number | null;
}

function bindingResult(outcome: Awaited<ReturnType<typeof mutate<BindingResult>>>): Mutated<EnvPackMutationResult> {
  const { binding, generation, previous_generation } = outcome.result;
  return {
    binding,
    binding_generation: generation,
    previous_binding_generation: previous_generation,
    etag: outcome.etag,
    generation: outcome.generation,
    idempotency: outcome.idempotency,
  };
}

/** Refuses a descriptor the registry cannot serve for the slot, before anything is stored. */
async function resolveUpFront(ctx: OperationsContext, payload: EnvPacksAddAnswers): Promise<void> {
  await ctx.registry.resolveForSlot(payload.slot, payload.kind);
}

/** `op env-packs add`: binds a free slot; the descriptor must resolve in the registry for that slot. */
export async function envPacksAdd(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<EnvPackMutationResult>> {
  const payload = await parseAnswers("env-packs add", answers, options);
  const { engine } = await answersEntry();
  await resolveUpFront(ctx, payload);
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "env-packs",
    verb: "add",
    payload,
    options,
    transform: (current, tx) => engine.addPackBinding(required(current, payload.environment_id), payload, tx),
  });
  return bindingResult(outcome);
}

/** `op env-packs update`: replaces a bound slot (generation + 1, previous binding stashed for rollback). */
export async function envPacksUpdate(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<EnvPackMutationResult>> {
  const payload = await parseAnswers("env-packs update", answers, options);
  const { engine } = await answersEntry();
  await resolveUpFront(ctx, payload);
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "env-packs",
    verb: "update",
    payload,
    options,
    transform: (current, tx) => engine.updatePackBinding(required(current, payload.environment_id), payload, tx),
  });
  return bindingResult(outcome);
}

/** `op env-packs remove`: unbinds a slot (nothing to roll back afterwards). */
export async function envPacksRemove(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<EnvPackMutationResult>> {
  const payload = await parseAnswers("env-packs remove", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "env-packs",
    verb: "remove",
    payload,
    options,
    transform: (current, tx) => engine.removePackBinding(required(current, payload.environment_id), payload, tx),
  });
  return bindingResult(outcome);
}

/** `op env-packs rollback`: restores the binding before the last update (one step). */
export async function envPacksRollback(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<EnvPackMutationResult>> {
  const payload = await parseAnswers("env-packs rollback", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "env-packs",
    verb: "rollback",
    payload,
    options,
    transform: (current, tx) => engine.rollbackPackBinding(required(current, payload.environment_id), payload, tx),
  });
  return bindingResult(outcome);
}

/** `op env-packs list <env>`: each binding with its resolved handler (plugins are loaded only here, on demand). */
export async function envPacksList(ctx: OperationsContext, envId: string): Promise<EnvPackListResult> {
  const id = checkEnvArgument(envId);
  const { environment } = await ctx.store.load(id);
  const packs: EnvPackListEntry[] = [];
  for (const binding of environment.packs) {
    const row: EnvPackListEntry = {
      slot: binding.slot,
      kind: binding.kind,
      pack_ref: binding.pack_ref,
      generation: binding.generation,
      ...(binding.answers_ref === undefined ? {} : { answers_ref: binding.answers_ref }),
      has_previous: binding.previous_binding_ref !== undefined,
      handler: null,
    };
    try {
      const { handler } = await ctx.registry.resolveForSlot(binding.slot, binding.kind);
      row.handler = { descriptor_path: handler.descriptorPath, slot: handler.slot, description: handler.description };
    } catch (error) {
      if (!(error instanceof GreenticError)) throw error;
      row.problem = { kind: error.kind, code: String(error.details?.code ?? error.kind), message: error.message };
    }
    packs.push(row);
  }
  return { environment_id: id, packs };
}
