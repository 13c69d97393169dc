import {
  GreenticError,
  auditTargetFor,
  checkEnvId,
  parseDocument,
  type AuditActor,
  type CapabilitySlot,
  type Environment,
} from "@greentic/deploy-spec/documents";
import type { AnswersFor, AnswersVerb } from "@greentic/deploy-spec";
import type { LocalProcessOptions } from "@greentic/deployer-local";
import {
  DefaultEnvPackRegistry,
  type DefaultRegistryOptions,
  type EnvPackHandler,
  type EnvPackRegistry,
  type HandlerContext,
  type LazyHandler,
} from "@greentic/env-packs";
import type {
  EnvironmentStore,
  LocalStoreAdministration,
  TransactContext,
  TransactOptions,
  TransformOutcome,
} from "@greentic/environment-store";
import type { Mutated, MutationOptions, ProgressEvent } from "./types.js";

/**
 * A store that also hands out per-environment data areas on this machine (staged bundles,
 * process records, the dev-store secrets file) for local handlers, as `LocalFsStore.dataDir`
 * does. Lock administration and migrations are local filesystem matters: a store without
 * them makes `env lock` and `env migrate-*` refuse.
 */
export type OperationsStore = EnvironmentStore &
  Pick<LocalStoreAdministration, "dataDir"> &
  Partial<Omit<LocalStoreAdministration, "dataDir">>;

/** The local-filesystem administration of `ctx.store`, or `invalid-argument` naming `what`. */
export function localAdministration(
  ctx: OperationsContext,
  what: string,
): Pick<LocalStoreAdministration, "lockInfo" | "forceUnlock" | "migrateDev" | "migrateState"> {
  const { lockInfo, forceUnlock, migrateDev, migrateState } = ctx.store;
  if (lockInfo === undefined || forceUnlock === undefined || migrateDev === undefined || migrateState === undefined) {
    throw new GreenticError(
      "invalid-argument",
      `${what} is a local filesystem store matter; this store has no ${what}`,
      {
        hint: "run it against the local store (`--store-root`)",
      },
    );
  }
  return ctx.store as Pick<LocalStoreAdministration, "lockInfo" | "forceUnlock" | "migrateDev" | "migrateState">;
}

/** What every verb works with: the store, the registry and who acts. Built by `createOperations`. */
export interface OperationsContext {
  store: OperationsStore;
  registry: EnvPackRegistry;
  actor: AuditActor | undefined;
  onProgress: ((event: ProgressEvent) => void) | undefined;
  /** Health-gate timeout passed to the deployer's `warm`. */
  warmTimeoutMs: number | undefined;
}

/** Options of {@link createOperationsRegistry}. */
export interface OperationsRegistryOptions extends DefaultRegistryOptions {
  /** Options of the built-in local-process deployer (runtime and router scripts, timeouts). */
  localProcess?: LocalProcessOptions;
  /** The CLI's version, which the single-VM deployer compares with a VM's op over SSH. */
  opVersion?: string | undefined;
}

/**
 * The built-in deployers. Each lives in its own package and is imported only when a descriptor
 * with its path is first resolved, so that loading operations (and starting the CLI) loads
 * neither. Key: descriptor path.
 */
function builtinDeployers(options: OperationsRegistryOptions): Record<string, LazyHandler> {
  return {
    "greentic.deployer.local-process": {
      package: "@greentic/deployer-local",
      load: async () => (await import("@greentic/deployer-local")).localProcessDeployerHandler(options.localProcess),
    },
    "greentic.deployer.single-vm": {
      package: "@greentic/adapter-single-vm",
      load: async () =>
        (await import("@greentic/adapter-single-vm")).singleVmDeployerHandler(
          options.opVersion === undefined ? {} : { opVersion: options.opVersion },
        ),
    },
  };
}

/**
 * The registry operations uses by default: the env-packs built-ins and plugins
 * (`DefaultEnvPackRegistry`) plus the built-in deployers, registered lazily (source `builtin`)
 * the first time a descriptor with their path is resolved. `list()` shows a deployer only once
 * it has been resolved.
 */
export function createOperationsRegistry(options: OperationsRegistryOptions = {}): DefaultEnvPackRegistry {
  const registry = new DefaultEnvPackRegistry(options);
  for (const [path, lazy] of Object.entries(builtinDeployers(options))) registry.registerLazy(path, lazy);
  return registry;
}

/**
 * deploy-spec's answers entry (the answers schemas and the state engine), imported by the first
 * mutation. Building the answers schemas costs a start about 20 ms that a read verb never uses,
 * so no module of the read path imports them statically (they import `/documents`, not the
 * index, whose re-export of this entry would put it in their chunk).
 */
export function answersEntry(): Promise<typeof import("@greentic/deploy-spec/answers")> {
  return import("@greentic/deploy-spec/answers");
}

/**
 * Validates an answers payload with its deploy-spec schema. Fails with `validation`, naming
 * the source file and field, before anything is looked up.
 */
export async function parseAnswers<V extends AnswersVerb>(
  verb: V,
  answers: unknown,
  options: MutationOptions = {},
): Promise<AnswersFor<V>> {
  const { ANSWERS_SCHEMAS, checkPayloadLimits } = await answersEntry();
  const source = options.source ?? `${verb} answers`;
  // The size limits hold for every caller, not only the CLI: checked before the schema, so an
  // oversized payload is never walked by zod nor echoed in a message.
  const big = checkPayloadLimits(answers);
  if (big !== undefined) {
    const where = big.path === "" ? source : `${source}: ${big.path}`;
    throw new GreenticError("validation", `${where}: ${big.length} ${big.unit}; at most ${big.max} are allowed`, {
      path: big.path === "" ? source : big.path,
      issues: [
        {
          path: big.path,
          code: big.unit === "bytes" ? "payload-too-large" : "too-long",
          message: `${big.length} ${big.unit}; at most ${big.max} are allowed`,
        },
      ],
      hint: 'shorten the value (see "Limits" in docs/concepts.md)',
    });
  }
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
      hint: "environment ids use ASCII letters, digits, '.', '_' and '-' only, and do not start with '.'",
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
  /** A transform that changes nothing commits nothing and is not audited (`env init` of an initialised environment). */
  quietNoop?: boolean;
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
    // As the reference fills it, when the verb gives no target of its own.
    target: args.target ?? auditTargetFor(args.noun, args.verb, args.payload),
    quietNoop: args.quietNoop,
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
    dataDir: (area, options) => ctx.store.dataDir(envId, area, options),
    log: (event) => ctx.onProgress?.(event),
  };
  if (answers !== undefined) handlerCtx.answers = answers;
  const runtimeConfigFile = ctx.store.runtimeConfigFile?.(envId);
  if (runtimeConfigFile !== undefined) handlerCtx.runtimeConfigFile = runtimeConfigFile;
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
