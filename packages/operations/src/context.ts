import {
  ANSWERS_SCHEMAS,
  GreenticError,
  checkEnvId,
  parseDocument,
  type AnswersFor,
  type AnswersVerb,
  type AuditActor,
  type CapabilitySlot,
  type Environment,
} from "@greentic/deploy-spec";
import {
  DefaultEnvPackRegistry,
  registryError,
  type DefaultRegistryOptions,
  type EnvPackHandler,
  type EnvPackRegistry,
  type HandlerContext,
  type KindOrDescriptor,
  type ResolvedHandler,
} from "@greentic/env-packs";
import type { EnvironmentStore, TransactContext, TransactOptions, TransformOutcome } from "@greentic/environment-store";
import type { Mutated, MutationOptions, ProgressEvent } from "./types.js";

/**
 * A store that also hands out per-environment data areas (staged bundles, process records,
 * the dev-store secrets file) for local handlers, as `LocalFsStore.dataDir` does.
 */
export type OperationsStore = EnvironmentStore & { dataDir(envId: string, area: string): Promise<string> };

/** What every verb works with: the store, the registry and who acts. Built by `createOperations`. */
export interface OperationsContext {
  store: OperationsStore;
  registry: EnvPackRegistry;
  actor: AuditActor | undefined;
  onProgress: ((event: ProgressEvent) => void) | undefined;
  /** Health-gate timeout passed to the deployer's `warm`. */
  warmTimeoutMs: number | undefined;
}

/**
 * Built-in env-packs that live in their own package and are imported only when a descriptor
 * with their path is resolved, so that loading operations (and starting the CLI) does not load
 * them. Key: descriptor path; value: the package to import and how to build the handler.
 */
export const LAZY_ENV_PACKS: Readonly<Record<string, { package: string; load: () => Promise<EnvPackHandler> }>> = {
  "greentic.deployer.single-vm": {
    package: "@greentic/adapter-single-vm",
    load: async () => (await import("@greentic/adapter-single-vm")).singleVmDeployerHandler(),
  },
};

/**
 * The registry operations uses by default: the env-packs built-ins and plugins
 * (`DefaultEnvPackRegistry`) plus {@link LAZY_ENV_PACKS}, each registered (source `builtin`) the
 * first time a descriptor with its path is resolved. `list()` shows a lazy pack only once it
 * has been resolved. A plugin that registered the same path first keeps it.
 */
export class OperationsRegistry extends DefaultEnvPackRegistry {
  readonly #loading = new Map<string, Promise<void>>();

  override async resolve(kind: KindOrDescriptor): Promise<ResolvedHandler> {
    const path = typeof kind === "string" ? kind.split("@")[0]! : kind.path;
    const lazy = Object.hasOwn(LAZY_ENV_PACKS, path) ? LAZY_ENV_PACKS[path] : undefined;
    if (lazy !== undefined && !this.has(path)) {
      let loading = this.#loading.get(path);
      if (loading === undefined) {
        loading = this.#loadLazy(path, lazy);
        this.#loading.set(path, loading);
        // A failed import may be retried by the next resolve (e.g. after building the package).
        loading.catch(() => this.#loading.delete(path));
      }
      await loading;
    }
    return super.resolve(kind);
  }

  async #loadLazy(path: string, lazy: { package: string; load: () => Promise<EnvPackHandler> }): Promise<void> {
    let handler: EnvPackHandler;
    try {
      handler = await lazy.load();
    } catch (error) {
      throw registryError(
        "internal",
        "plugin-broken",
        `built-in env-pack ${JSON.stringify(path)} could not be loaded from ${lazy.package}: ${(error as Error).message}`,
        `reinstall the CLI (or build ${lazy.package} in a checkout: pnpm -r build)`,
        { package: lazy.package, descriptor_path: path },
        error,
      );
    }
    if (!this.has(path)) this.register(handler, { source: "builtin" });
  }
}

/** The default registry of {@link createOperations}: see {@link OperationsRegistry}. */
export function createOperationsRegistry(options: DefaultRegistryOptions = {}): OperationsRegistry {
  return new OperationsRegistry(options);
}

/**
 * Validates an answers payload with its deploy-spec schema. Fails with `validation`, naming
 * the source file and field, before anything is looked up.
 */
export function parseAnswers<V extends AnswersVerb>(
  verb: V,
  answers: unknown,
  options: MutationOptions = {},
): AnswersFor<V> {
  const source = options.source ?? `${verb} answers`;
  const parsed = parseDocument(ANSWERS_SCHEMAS[verb], answers, { source });
  if (!parsed.ok) {
    const first = parsed.issues[0];
    throw new GreenticError("validation", parsed.summary, {
      path: first !== undefined && first.path !== "" ? first.path : source,
      issues: parsed.issues,
      hint: `fix the answers (print their JSON Schema with \`op ${verb} --schema\`)`,
    });
  }
  return parsed.value as AnswersFor<V>;
}

/** Checks a positional environment id (read-only verbs): `invalid-argument` when malformed. */
export function checkEnvArgument(envId: unknown): string {
  if (typeof envId !== "string") {
    throw new GreenticError("invalid-argument", `environment id must be a string, got ${typeof envId}`, {
      hint: "pass an environment id such as `local`",
    });
  }
  const problem = checkEnvId(envId);
  if (problem !== null) {
    throw new GreenticError("invalid-argument", problem.message, {
      hint: "environment ids have no '/', '\\', ':', whitespace or leading '.'",
      details: { code: problem.code },
    });
  }
  return envId;
}

/** The idempotency key of a call: the option wins over the payload field. */
export function idempotencyKeyOf(
  payload: { idempotency_key?: string | undefined },
  options: MutationOptions,
): string | undefined {
  return options.idempotencyKey ?? payload.idempotency_key;
}

/** The payload as fingerprinted for idempotency: everything but the key itself. */
function requestOf(payload: object): unknown {
  const { idempotency_key: _key, ...rest } = payload as { idempotency_key?: unknown };
  return rest;
}

/** Arguments of {@link mutate}. */
export interface MutateArgs<R> {
  envId: string;
  noun: string;
  verb: string;
  /** The validated payload: fingerprinted (without its idempotency key) for replay detection. */
  payload: object;
  options: MutationOptions;
  /** The change: usually a deploy-spec `engine.*` transform. */
  transform: (
    current: Environment | undefined,
    tx: TransactContext,
  ) => TransformOutcome<R> | Promise<TransformOutcome<R>>;
  /** The environment may not exist yet (`env init`, `env create`). */
  create?: boolean;
  /** Audit target when the transform gives none. Never secret values. */
  target?: unknown;
  /** Replaces the fingerprinted request (e.g. to keep secret values out of it). */
  request?: unknown;
}

/** The store options of one mutation: {@link precheck} and {@link mutate} must fingerprint the same request. */
function transactOptions(ctx: OperationsContext, args: Omit<MutateArgs<unknown>, "transform">): TransactOptions {
  return {
    noun: args.noun,
    verb: args.verb,
    actor: ctx.actor,
    precondition: args.options.precondition,
    idempotencyKey: idempotencyKeyOf(args.payload as { idempotency_key?: string }, args.options),
    request: args.request ?? requestOf(args.payload),
    create: args.create,
    target: args.target,
  };
}

/** Runs one mutation through `store.transact` with idempotency key, precondition and audit. */
export async function mutate<R>(ctx: OperationsContext, args: MutateArgs<R>): Promise<{ result: R } & Mutated<object>> {
  const committed = await ctx.store.transact(args.envId, args.transform, transactOptions(ctx, args));
  return {
    result: committed.result,
    etag: committed.etag,
    generation: committed.generation,
    idempotency: committed.idempotency,
  };
}

/**
 * For verbs with a side effect outside the store before their commit (a staged copy, a started
 * process): runs the checks of the {@link mutate} call that will commit it (same arguments,
 * without the transform) before that side effect. A stale precondition or a key reused with
 * another payload throws here; a key already used with this payload returns the recorded
 * outcome, which the verb returns instead of acting again. Undefined: go ahead. The commit
 * still checks everything again (another writer may get in between).
 */
export async function precheck<R>(
  ctx: OperationsContext,
  args: Omit<MutateArgs<R>, "transform">,
): Promise<({ result: R } & Mutated<object>) | undefined> {
  const checked = await ctx.store.checkMutation<R>(args.envId, transactOptions(ctx, args));
  if (checked.status === "proceed") return undefined;
  const { replayed } = checked;
  return {
    result: replayed.result,
    etag: replayed.etag,
    generation: replayed.generation,
    idempotency: replayed.idempotency,
  };
}

/** `{...result, etag, generation, idempotency}` from a {@link mutate} outcome. */
export function withCommit<R extends object>(outcome: { result: R } & Mutated<object>): Mutated<R> {
  return { ...outcome.result, etag: outcome.etag, generation: outcome.generation, idempotency: outcome.idempotency };
}

/** The handler context for one environment and slot: private data area, slot answers, progress. */
export async function handlerContext(
  ctx: OperationsContext,
  envId: string,
  slot: CapabilitySlot,
): Promise<HandlerContext> {
  const answers = await ctx.store.loadPackAnswers(envId, slot);
  const handlerCtx: HandlerContext = {
    envId,
    dataDir: (area) => ctx.store.dataDir(envId, area),
    log: (event) => ctx.onProgress?.(event),
  };
  if (answers !== undefined) handlerCtx.answers = answers;
  return handlerCtx;
}

/** The handler bound to `slot` in `env`, resolved through the registry; `precondition-failed` when unbound. */
export async function boundHandler(
  ctx: OperationsContext,
  env: Environment,
  slot: CapabilitySlot,
): Promise<{ handler: EnvPackHandler; kind: string }> {
  const binding = env.packs.find((p) => p.slot === slot);
  if (binding === undefined) {
    throw new GreenticError("precondition-failed", `environment ${env.environment_id} has no ${slot} env-pack bound`, {
      hint: `bind one with \`op env-packs add\` (or \`op env init\` for the local defaults)`,
      details: { code: "slot-unbound", slot },
    });
  }
  const { handler } = await ctx.registry.resolveForSlot(slot, binding.kind);
  return { handler, kind: binding.kind };
}

/** Emits a progress event if someone listens. */
export function progress(
  ctx: OperationsContext,
  event: string,
  message: string,
  fields: Record<string, unknown> = {},
): void {
  ctx.onProgress?.({ event, message, ...fields });
}
