import {
  GreenticError,
  assertPrecondition,
  type Environment,
  type EnvironmentRuntime,
} from "@greentic/deploy-spec/documents";
import type { CreateEnvironmentResult, InitEnvironmentResult, UpdateEnvironmentResult } from "@greentic/deploy-spec";
import { doctorEnvironment, type DoctorReport } from "@greentic/env-packs";
import { status, type TrafficDrift } from "./status.js";
import type {
  BackupInfo,
  EnvironmentSummary,
  MigrateDevApplied,
  MigrateDevCheck,
  MigrateStateApplied,
  MigrateStateCheck,
  Precondition,
} from "@greentic/environment-store";
import { ulid } from "ulid";
import {
  answersEntry,
  boundHandler,
  checkEnvArgument,
  handlerContext,
  localAdministration,
  mutate,
  parseAnswers,
  progress,
  withCommit,
  type OperationsContext,
} from "./context.js";
import { existingEnv, notFoundEnv, required } from "./lookups.js";
import { environmentRouter, type EnvRouterInfo } from "./router.js";
import type { Mutated, MutationOptions } from "./types.js";

/** `op env show`: the stored environment, its `runtime.json` (or null), and the version to pin. */
export interface EnvShowResult {
  environment: Environment;
  runtime: EnvironmentRuntime | null;
  etag: string;
  generation: number;
  /** The bound deployer's environment router (`{state, pid, url}`), or null when it has none. */
  router: EnvRouterInfo | null;
}

/** Options of `env destroy`. */
export interface EnvDestroyOptions {
  /** Must be `true`: destroying stops every revision and removes the environment. */
  confirm: boolean;
  /** Pin the state the caller decided on (ETag and/or generation). */
  precondition?: Precondition | undefined;
  /** Keep the secrets the environment holds (default: the bound secrets env-pack removes them). */
  keep_secrets?: boolean | undefined;
}

/** `op env destroy` result. */
export interface EnvDestroyResult {
  environment_id: string;
  /** Whether the environment's secrets were removed (false with `keep_secrets`, or when it held none). */
  secrets_removed: boolean;
  /** Revisions whose processes the deployer stopped. */
  stopped_revisions: string[];
  destroyed: true;
}

/** `op env lock show` result. */
export interface EnvLockResult {
  environment_id: string;
  /** The lock record while someone holds the lock, or null. */
  lock: unknown;
}

/** `op env init`: created / healed / untouched. Untouched writes nothing and audits nothing. */
export async function envInit(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<InitEnvironmentResult>> {
  const payload = await parseAnswers("env init", answers, options);
  const { engine } = await answersEntry();
  const envId = payload.environment_id;
  const vmSpec = payload.deployer === "single-vm" ? payload.spec_path : undefined;
  if (vmSpec !== undefined) {
    // Input first: the spec must exist and be a valid DeploymentSpec before anything is written.
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(vmSpec, "utf8").catch((error: NodeJS.ErrnoException) => {
      throw new GreenticError(
        "invalid-argument",
        `spec_path: ${vmSpec} cannot be read (${error.code ?? error.message})`,
        {
          path: "spec_path",
          hint: "write it with `op single-vm init-spec --out FILE` (spec.bundle.source may point at any bundle: each deploy replaces it)",
        },
      );
    });
    // spec.bundle.source may be left out: every revision brings its own bundle.
    const { validateVmSpec } = await import("@greentic/adapter-single-vm");
    const checked = validateVmSpec(text, vmSpec);
    if (!checked.ok)
      throw new GreenticError("validation", checked.summary, {
        path: "spec_path",
        issues: checked.issues,
        hint: "fix the deployment spec (`op single-vm plan --spec FILE` shows the same problems)",
      });
    if (payload.ssh !== undefined) {
      // The VM over SSH: its address must parse and the pinned host key file must be there.
      const { parseSshTarget } = await import("@greentic/adapter-single-vm");
      parseSshTarget(payload.ssh, "ssh");
      for (const [field, file] of [
        ["known_hosts", payload.known_hosts],
        ["identity", payload.identity],
      ] as const)
        if (file !== undefined)
          await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
            throw new GreenticError(
              "invalid-argument",
              `${field}: ${file} cannot be read (${error.code ?? error.message})`,
              {
                path: field,
                hint:
                  field === "known_hosts"
                    ? "pin the VM's host key: ssh-keyscan -p PORT -t ed25519 HOST > FILE, then compare `ssh-keygen -lf FILE` with the fingerprint the VM shows on its console"
                    : "name the private key you log in to the VM with",
              },
            );
          });
    }
  }
  if (vmSpec === undefined && (await ctx.store.exists(envId))) {
    const loaded = await ctx.store.load(envId);
    // Decide on the loaded copy: an environment that already has every default is left alone.
    const preview = engine.initLocalEnvironment(loaded.environment, payload, {
      now: new Date().toISOString(),
      newId: ulid,
    });
    if (preview.result.outcome === "untouched") {
      if (options.precondition !== undefined) assertPrecondition(options.precondition, loaded);
      return { ...preview.result, etag: loaded.etag, generation: loaded.generation, idempotency: "applied" };
    }
  }
  const outcome = await mutate(ctx, {
    envId,
    noun: "env",
    verb: "init",
    payload,
    options,
    create: true,
    // Two racing inits of a new environment: the second finds it initialised and leaves no trace.
    quietNoop: true,
    transform: (current, tx) => {
      const init = engine.initLocalEnvironment(current, payload, tx);
      if (vmSpec === undefined) return init;
      const bound = engine.updatePackBinding(
        init.environment,
        { environment_id: envId, slot: "deployer", kind: SINGLE_VM_DEPLOYER },
        tx,
      );
      tx.setPackAnswers("deployer", {
        spec_path: vmSpec,
        ...(payload.ssh === undefined ? {} : { ssh: payload.ssh, known_hosts: payload.known_hosts }),
        ...(payload.identity === undefined ? {} : { identity: payload.identity }),
      });
      return {
        environment: bound.environment,
        result: {
          ...init.result,
          outcome: init.result.outcome === "untouched" ? "healed" : init.result.outcome,
          deployer: SINGLE_VM_DEPLOYER,
        },
      };
    },
  });
  return withCommit(outcome);
}

/** The descriptor `op env init --deployer single-vm` binds. */
export const SINGLE_VM_DEPLOYER = "greentic.deployer.single-vm@0.1.0";

/** `op env create`: a new environment with no pack bindings (`conflict` if it exists). */
export async function envCreate(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<CreateEnvironmentResult>> {
  const payload = await parseAnswers("env create", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "env",
    verb: "create",
    payload,
    options,
    create: true,
    transform: (current, tx) => engine.createEnvironment(current, payload, tx),
  });
  return withCommit(outcome);
}

/** `op env update`: tri-state field updates (`{value}` / `{clear: true}` / absent). */
export async function envUpdate(
  ctx: OperationsContext,
  answers: unknown,
  options: MutationOptions = {},
): Promise<Mutated<UpdateEnvironmentResult>> {
  const payload = await parseAnswers("env update", answers, options);
  const { engine } = await answersEntry();
  const outcome = await mutate(ctx, {
    envId: payload.environment_id,
    noun: "env",
    verb: "update",
    payload,
    options,
    transform: (current, tx) => engine.updateEnvironment(required(current, payload.environment_id), payload, tx),
  });
  return withCommit(outcome);
}

/** `op env show <env>`. */
export async function envShow(ctx: OperationsContext, envId: string): Promise<EnvShowResult> {
  const id = checkEnvArgument(envId);
  const loaded = await ctx.store.load(id);
  const router = await environmentRouter(ctx, loaded.environment);
  return {
    environment: loaded.environment,
    runtime: loaded.runtime ?? null,
    etag: loaded.etag,
    generation: loaded.generation,
    router,
  };
}

/** One environment as `op env list` shows it: the store's summary plus, when asked, its live health. */
export type EnvListEntry = EnvironmentSummary & {
  /**
   * What runs, as `op status` judges it: `healthy` (every revision with traffic runs and is
   * ready, the router serves, no drift), `unhealthy` (see `problems`), `unknown` (the
   * environment cannot be loaded). Present with `{live: true}`.
   */
  health?: "healthy" | "unhealthy" | "unknown";
  /** The problems behind `unhealthy`, as `op status` words them. */
  problems?: string[];
};

/**
 * `op env list`: every environment, sorted by id (corrupt ones flagged, not hidden). With
 * `{live: true}` each one's live health is read from its deployer (as `op status` does),
 * not taken from the store.
 */
export async function envList(ctx: OperationsContext, options: { live?: boolean } = {}): Promise<EnvListEntry[]> {
  const summaries: EnvListEntry[] = await ctx.store.list();
  if (options.live !== true) return summaries;
  return Promise.all(
    summaries.map(async (summary) => {
      if (summary.status !== "ok") return { ...summary, health: "unknown" as const };
      const live = await status(ctx, summary.environment_id, { auditLimit: 0 }).catch((error: Error) => ({
        healthy: false,
        problems: [`The live state cannot be read: ${error.message}`],
      }));
      return {
        ...summary,
        health: live.healthy ? ("healthy" as const) : ("unhealthy" as const),
        problems: live.problems,
      };
    }),
  );
}

/**
 * `op env doctor <env>`: one report of every problem (bindings, registry, revisions vs the
 * deployer, preflights). A store that cannot be loaded is part of the report, not a throw;
 * only a missing environment is `not-found`.
 */
export async function envDoctor(
  ctx: OperationsContext,
  envId: string,
  options: { runPreflight?: boolean } = {},
): Promise<EnvDoctorReport> {
  const id = checkEnvArgument(envId);
  if (!(await ctx.store.exists(id))) throw notFoundEnv(id);
  let env: Environment;
  try {
    env = (await ctx.store.load(id)).environment;
  } catch (loadError) {
    return {
      ...(await doctorEnvironment({ environment_id: id, loadError }, ctx.registry)),
      live: { problems: [], notes: [], drift: [] },
    };
  }
  const context = env.packs.some((p) => p.slot === "deployer") ? await handlerContext(ctx, id, "deployer") : undefined;
  const report = await doctorEnvironment(env, ctx.registry, {
    ...(options.runPreflight === undefined ? {} : { runPreflight: options.runPreflight }),
    ...(context === undefined ? {} : { context }),
  });
  // What runs, against what the store says: a URL that would fail a request is a problem.
  const live = await status(ctx, id, { auditLimit: 0 }).catch((error: Error) => ({
    problems: [`The live state cannot be read: ${error.message}`],
    notes: [] as string[],
    drift: [],
  }));
  return {
    ...report,
    live: { problems: live.problems, notes: live.notes, drift: live.drift },
    healthy: report.healthy && live.problems.length === 0,
  };
}

/** `op env doctor` report: the env-packs checks plus the live state (what runs, what the router serves). */
export type EnvDoctorReport = DoctorReport & {
  live: {
    /** Sentences, one per problem: a revision with traffic that is down, drift, a router that does not serve. */
    problems: string[];
    /**
     * Sentences that are not problems: the bare environment URL answering 404 because every
     * served deployment is bound to a host or path prefix (requests for those are served).
     */
    notes: string[];
    drift: TrafficDrift[];
  };
};

/**
 * `op env destroy <env>`: stops every revision through the bound deployer, then removes the
 * environment from the store (its history is kept aside). Needs `{confirm: true}`.
 */
export async function envDestroy(
  ctx: OperationsContext,
  envId: string,
  options: EnvDestroyOptions,
): Promise<EnvDestroyResult> {
  const id = checkEnvArgument(envId);
  if (options?.confirm !== true) {
    throw new GreenticError("invalid-argument", `destroying environment ${id} needs confirmation`, {
      hint: "pass {confirm: true} (`op env destroy <env> --confirm`)",
      details: { code: "confirmation-required" },
    });
  }
  const loaded = await ctx.store.load(id);
  // Checked before stopping anything: a stale decision must not kill running revisions.
  if (options.precondition !== undefined) assertPrecondition(options.precondition, loaded);
  // So is the store itself (lock, authorization): a read-only or full store refuses before
  // a single revision is stopped, rather than after.
  await ctx.store.checkMutation(id, {
    noun: "env",
    verb: "destroy",
    actor: ctx.actor,
    precondition: options.precondition,
    target: { environment_id: id },
  });
  let stopped: string[] = [];
  if (loaded.environment.packs.some((p) => p.slot === "deployer")) {
    const { handler } = await boundHandler(ctx, loaded.environment, "deployer");
    progress(ctx, "env.destroy.stop", `stopping every revision of ${id}`);
    stopped = (await handler.deployer!.destroy(await handlerContext(ctx, id, "deployer"))).stopped;
  }
  // The history moves aside and is kept; the secrets are not history: they go unless kept.
  let secretsRemoved = false;
  if (options.keep_secrets !== true && loaded.environment.packs.some((p) => p.slot === "secrets")) {
    const { handler } = await boundHandler(ctx, loaded.environment, "secrets");
    if (handler.secrets?.destroy !== undefined)
      secretsRemoved = (await handler.secrets.destroy(await handlerContext(ctx, id, "secrets"))).removed;
  }
  await ctx.store.destroy(id, { actor: ctx.actor, precondition: options.precondition });
  return { environment_id: id, stopped_revisions: stopped, destroyed: true, secrets_removed: secretsRemoved };
}

/** `op env backups <env>`: backups of the environment's stored files, newest first (as the store lists them). */
export async function envBackups(ctx: OperationsContext, envId: string): Promise<BackupInfo[]> {
  const id = await existingEnv(ctx, envId);
  return ctx.store.listBackups(id);
}

/** `op env restore <env>`: brings a backup back as a new generation; the precondition must pin the current state. */
export async function envRestore(
  ctx: OperationsContext,
  envId: string,
  backupId: string,
  precondition: Precondition,
): Promise<Mutated<{ restored: string; file: string }>> {
  const id = checkEnvArgument(envId);
  if (typeof backupId !== "string" || backupId.length === 0) {
    throw new GreenticError("invalid-argument", "backup id is empty", {
      hint: "list backups with `op env backups <env>`",
    });
  }
  const outcome = await ctx.store.restore(id, backupId, precondition, { actor: ctx.actor });
  return withCommit(outcome);
}

/** `op env lock show <env>`. */
export async function envLockShow(ctx: OperationsContext, envId: string): Promise<EnvLockResult> {
  const id = await existingEnv(ctx, envId);
  // Both stores say who holds the lock: the local one from its lock file, a shared one from
  // the database (the session holding the environment's advisory lock).
  const lockInfo = ctx.store.lockInfo ?? localAdministration(ctx, "lock administration").lockInfo;
  return { environment_id: id, lock: (await lockInfo.call(ctx.store, id)) ?? null };
}

/** `op env lock force-unlock <env> <lock-id>`: removes a lock left by a dead process. */
export async function envForceUnlock(ctx: OperationsContext, envId: string, lockId: string): Promise<EnvLockResult> {
  const id = checkEnvArgument(envId);
  if (typeof lockId !== "string" || lockId.length === 0) {
    throw new GreenticError("invalid-argument", "lock id is empty", { hint: "read it with `op env lock show <env>`" });
  }
  return { environment_id: id, lock: await localAdministration(ctx, "lock administration").forceUnlock(id, lockId) };
}

/** `op env migrate-dev <target> --check|--apply`. */
export async function envMigrateDev(
  ctx: OperationsContext,
  target: string,
  mode: "check" | "apply",
): Promise<MigrateDevCheck | MigrateDevApplied> {
  const id = checkEnvArgument(target);
  if (mode === "check") return localAdministration(ctx, "migrate-dev").migrateDev(id, { mode: "check" });
  if (mode === "apply")
    return localAdministration(ctx, "migrate-dev").migrateDev(id, {
      mode: "apply",
      ...(ctx.actor === undefined ? {} : { actor: ctx.actor }),
    });
  throw badMode(mode);
}

/** `op env migrate-state <env> --check|--apply [--state-dir]`. */
export async function envMigrateState(
  ctx: OperationsContext,
  envId: string,
  mode: "check" | "apply",
  stateDir?: string,
): Promise<MigrateStateCheck | MigrateStateApplied> {
  const id = checkEnvArgument(envId);
  const dir = stateDir === undefined ? {} : { stateDir };
  if (mode === "check") return localAdministration(ctx, "migrate-state").migrateState(id, { mode: "check", ...dir });
  if (mode === "apply")
    return localAdministration(ctx, "migrate-state").migrateState(id, {
      mode: "apply",
      ...dir,
      ...(ctx.actor === undefined ? {} : { actor: ctx.actor }),
    });
  throw badMode(mode);
}

function badMode(mode: unknown): GreenticError {
  return new GreenticError("invalid-argument", `mode must be "check" or "apply", got ${JSON.stringify(mode)}`, {
    hint: "run with --check first, then --apply",
  });
}
