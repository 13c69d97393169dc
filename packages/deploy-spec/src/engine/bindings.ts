import type { EnvPacksAddAnswers, EnvPacksSlotAnswers, EnvPacksUpdateAnswers } from "../answers.js";
import { EnvPackBindingSchema, type EnvPackBinding, type Environment } from "../documents.js";
import { GreenticError } from "../errors.js";
import { bindsInPacks, type CapabilitySlot } from "../slots.js";
import {
  checkTarget,
  clone,
  compact,
  decodeStash,
  encodeStash,
  finish,
  notFound,
  type EngineContext,
  type EngineOutput,
} from "./shared.js";

export interface BindingResult {
  binding: EnvPackBinding;
  /** The binding's generation after the verb (for remove: the generation it had). */
  generation: number;
  /** Generation before the verb; null for add. */
  previous_generation: number | null;
}

function checkPackSlot(slot: CapabilitySlot): void {
  if (!bindsInPacks(slot)) {
    throw new GreenticError("validation", `slot ${slot} is not bound through env-packs (it can have many instances)`, {
      path: "slot",
      hint: slot === "extension" ? "use `op extensions`" : "use `op messaging`",
      details: { code: "not-pack-slot" },
    });
  }
}

function findBinding(env: Environment, slot: CapabilitySlot): number {
  const i = env.packs.findIndex((p) => p.slot === slot);
  if (i < 0)
    throw notFound(
      `a binding for slot ${slot} in environment ${env.environment_id}`,
      "bind it with `op env-packs add`",
      { slot },
    );
  return i;
}

/** `op env-packs add`: binds a free slot (generation 0). */
export function addPackBinding(
  env: Environment,
  payload: EnvPacksAddAnswers,
  _ctx: EngineContext,
): EngineOutput<BindingResult> {
  checkTarget(env, payload);
  checkPackSlot(payload.slot);
  if (env.packs.some((p) => p.slot === payload.slot)) {
    throw new GreenticError("conflict", `slot ${payload.slot} is already bound in environment ${env.environment_id}`, {
      hint: "use `op env-packs update` to replace the binding",
    });
  }
  const next = clone(env);
  const binding: EnvPackBinding = compact({
    slot: payload.slot,
    kind: payload.kind,
    pack_ref: payload.pack_ref ?? payload.kind,
    answers_ref: payload.answers_ref,
    generation: 0,
  });
  next.packs.push(binding);
  return finish(next, { binding, generation: 0, previous_generation: null });
}

/** `op env-packs update`: replaces a bound slot, `generation + 1`, stashing the previous binding. */
export function updatePackBinding(
  env: Environment,
  payload: EnvPacksUpdateAnswers,
  _ctx: EngineContext,
): EngineOutput<BindingResult> {
  checkTarget(env, payload);
  checkPackSlot(payload.slot);
  const i = findBinding(env, payload.slot);
  const next = clone(env);
  const previous = next.packs[i]!;
  const binding: EnvPackBinding = compact({
    slot: payload.slot,
    kind: payload.kind,
    pack_ref: payload.pack_ref ?? payload.kind,
    answers_ref: payload.answers_ref,
    generation: previous.generation + 1,
    previous_binding_ref: encodeStash(previous, "previous_binding_ref"),
  });
  next.packs[i] = binding;
  return finish(next, { binding, generation: binding.generation, previous_generation: previous.generation });
}

/** `op env-packs remove`: unbinds a slot. There is nothing to roll back afterwards. */
export function removePackBinding(
  env: Environment,
  payload: EnvPacksSlotAnswers,
  _ctx: EngineContext,
): EngineOutput<BindingResult> {
  checkTarget(env, payload);
  checkPackSlot(payload.slot);
  const i = findBinding(env, payload.slot);
  const next = clone(env);
  const [binding] = next.packs.splice(i, 1);
  return finish(next, { binding: binding!, generation: binding!.generation, previous_generation: binding!.generation });
}

/** `op env-packs rollback`: restores the stashed binding (one step), `generation + 1`. */
export function rollbackPackBinding(
  env: Environment,
  payload: EnvPacksSlotAnswers,
  _ctx: EngineContext,
): EngineOutput<BindingResult> {
  checkTarget(env, payload);
  checkPackSlot(payload.slot);
  const i = findBinding(env, payload.slot);
  const current = env.packs[i]!;
  if (current.previous_binding_ref === undefined) {
    throw new GreenticError("conflict", `slot ${payload.slot} has no previous binding to roll back to`, {
      hint: "rollback undoes one update; it cannot undo an add or a remove",
      details: { code: "no-previous-binding" },
    });
  }
  const restored = decodeStash(current.previous_binding_ref, EnvPackBindingSchema, `slot ${payload.slot}`);
  const binding: EnvPackBinding = { ...restored, slot: current.slot, generation: current.generation + 1 };
  delete binding.previous_binding_ref;
  const next = clone(env);
  next.packs[i] = binding;
  return finish(next, { binding, generation: binding.generation, previous_generation: current.generation });
}
