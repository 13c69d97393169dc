import { CORE_SLOTS, GreenticError, validateEnvironment, type ValidationIssue } from "@greentic/deploy-spec/documents";
import { runPreflight, type PreflightReport } from "./preflight.js";
import type { EnvPackRegistry, ResolvedHandler } from "./registry.js";
import type { HandlerContext, RevisionRuntimeStatus } from "./types.js";

/** The parts of a `greentic.environment.v1` document doctor reads. */
export interface DoctorEnvironmentInput {
  environment_id: string;
  packs?: readonly { slot: string; kind: string }[];
  revisions?: readonly {
    revision_id: string;
    deployment_id: string;
    bundle_id: string;
    lifecycle: string;
    pack_list_lock_ref?: string;
  }[];
  extensions?: readonly { kind: string }[];
}

/** An environment that could not be loaded (corrupted or missing store files). */
export interface DoctorLoadError {
  environment_id: string;
  loadError: unknown;
}

/** Options of `doctorEnvironment`. */
export interface DoctorOptions {
  /** Run each bound handler's preflight checks (default false: they may probe tools). */
  runPreflight?: boolean;
  /** Builds a handler context for the environment; needed to compare revisions with the deployer. */
  context?: HandlerContext;
  /** Clock for `checked_at` (tests). */
  now?: () => Date;
}

export interface KindProblem {
  slot: string;
  kind: string;
  code: string;
  message: string;
}

export interface StaleRevision {
  deployment_id: string;
  revision_id: string;
  bundle_id: string;
  recorded_pack_list_lock_ref?: string;
  lifecycle: string;
  deployer_state: RevisionRuntimeStatus["state"] | "absent";
  detail: string;
  fix: string;
}

/** The reference's doctor report, plus preflights, plugin failures and a load error. */
export interface DoctorReport {
  environment_id: string;
  validate: { status: "ok" } | { status: "error"; message: string; issues?: ValidationIssue[] };
  bound_slots: string[];
  missing_slots: string[];
  unknown_kinds: KindProblem[];
  slot_mismatches: { kind: string; bound_slot: string; handler_slot: string }[];
  version_skew: { kind: string; requested: string; supported: string }[];
  /** Bindings whose descriptor could not be resolved for another reason (a broken plugin, a bad descriptor). */
  resolution_errors: KindProblem[];
  extensions: { count: number };
  stale_revisions: StaleRevision[];
  preflight: { slot: string; kind: string; checks: PreflightReport[] }[];
  failing_preflights: { slot: string; kind: string; name: string; detail: string; install_hint?: string }[];
  has_runtime: boolean;
  /** True when nothing above is a problem. */
  healthy: boolean;
  checked_at: string;
}

function isLoadError(input: DoctorEnvironmentInput | DoctorLoadError): input is DoctorLoadError {
  return "loadError" in input;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks an environment against the registry and reports every problem found: it never
 * throws on the first one. A load error (corrupted store) is reported, not rethrown.
 */
export async function doctorEnvironment(
  input: DoctorEnvironmentInput | DoctorLoadError,
  registry: EnvPackRegistry,
  options: DoctorOptions = {},
): Promise<DoctorReport> {
  const report: DoctorReport = {
    environment_id: input.environment_id,
    validate: { status: "ok" },
    bound_slots: [],
    missing_slots: [],
    unknown_kinds: [],
    slot_mismatches: [],
    version_skew: [],
    resolution_errors: [],
    extensions: { count: 0 },
    stale_revisions: [],
    preflight: [],
    failing_preflights: [],
    has_runtime: false,
    healthy: false,
    checked_at: (options.now?.() ?? new Date()).toISOString(),
  };
  if (isLoadError(input)) {
    const error = input.loadError;
    report.validate = {
      status: "error",
      message: `the environment could not be loaded: ${describe(error)}`,
      ...(error instanceof GreenticError && error.issues.length > 0 ? { issues: [...error.issues] } : {}),
    };
    report.missing_slots = [...CORE_SLOTS];
    return report;
  }

  const env = input;
  const issues = validateEnvironment(env);
  if (issues.length > 0) {
    report.validate = {
      status: "error",
      message: `${issues.length} validation issue(s); first: ${issues[0]!.path || "(document)"}: ${issues[0]!.message}`,
      issues,
    };
  }
  const packs = Array.isArray(env.packs) ? env.packs : [];
  report.bound_slots = packs.map((pack) => pack.slot);
  report.missing_slots = CORE_SLOTS.filter((slot) => !report.bound_slots.includes(slot));
  report.extensions.count = Array.isArray(env.extensions) ? env.extensions.length : 0;

  let deployer: ResolvedHandler | undefined;
  for (const pack of packs) {
    let resolved: ResolvedHandler;
    try {
      resolved = await registry.resolve(pack.kind);
    } catch (error) {
      const code = error instanceof GreenticError ? String(error.details?.code ?? error.kind) : "internal";
      const problem = { slot: pack.slot, kind: pack.kind, code, message: describe(error) };
      if (code === "unknown-kind") report.unknown_kinds.push(problem);
      else if (code === "version-unsupported" && error instanceof GreenticError) {
        report.version_skew.push({
          kind: pack.kind,
          requested: String(error.details?.requested),
          supported: String(error.details?.supported),
        });
      } else report.resolution_errors.push(problem);
      continue;
    }
    if (resolved.handler.slot !== pack.slot) {
      report.slot_mismatches.push({ kind: pack.kind, bound_slot: pack.slot, handler_slot: resolved.handler.slot });
      continue;
    }
    if (pack.slot === "deployer") deployer = resolved;
    if (options.runPreflight === true) {
      const checks = await runPreflight(resolved.handler);
      report.preflight.push({ slot: pack.slot, kind: pack.kind, checks });
      for (const check of checks.filter((c) => !c.ok)) {
        report.failing_preflights.push({
          slot: pack.slot,
          kind: pack.kind,
          name: check.name,
          detail: check.detail,
          ...(check.install_hint === undefined ? {} : { install_hint: check.install_hint }),
        });
      }
    }
  }

  if (deployer?.handler.deployer !== undefined && options.context !== undefined) {
    try {
      const statuses = await deployer.handler.deployer.status(options.context);
      report.has_runtime = statuses.some((status) => status.state === "running");
      report.stale_revisions = staleRevisions(env, statuses);
    } catch (error) {
      report.resolution_errors.push({
        slot: "deployer",
        kind: deployer.descriptor.raw,
        code: "status-failed",
        message: describe(error),
      });
    }
  }

  report.healthy =
    report.validate.status === "ok" &&
    report.missing_slots.length === 0 &&
    report.unknown_kinds.length === 0 &&
    report.slot_mismatches.length === 0 &&
    report.version_skew.length === 0 &&
    report.resolution_errors.length === 0 &&
    report.stale_revisions.length === 0 &&
    report.failing_preflights.length === 0;
  return report;
}

/** Revisions whose recorded lifecycle disagrees with what the deployer has on the host. */
function staleRevisions(env: DoctorEnvironmentInput, statuses: RevisionRuntimeStatus[]): StaleRevision[] {
  const out: StaleRevision[] = [];
  for (const revision of env.revisions ?? []) {
    const status = statuses.find((candidate) => candidate.revision_id === revision.revision_id);
    const state = status?.state ?? "absent";
    let problem: { detail: string; fix: string } | undefined;
    if (revision.lifecycle === "ready" && state !== "running") {
      problem = {
        detail: `the revision is ready but its process is ${state === "absent" ? "not staged on this host" : state}`,
        fix:
          state === "absent"
            ? "stage and warm it again, or archive it"
            : "warm it again (op revisions warm) or archive it",
      };
    } else if ((revision.lifecycle === "staged" || revision.lifecycle === "warming") && state === "absent") {
      problem = {
        detail: "the revision is recorded as staged but its bundle is not staged on this host",
        fix: "archive it and stage the bundle again",
      };
    } else if ((revision.lifecycle === "archived" || revision.lifecycle === "inactive") && state === "running") {
      problem = {
        detail: `the revision is ${revision.lifecycle} but its process still runs`,
        fix: "archive it again to stop the process",
      };
    }
    if (problem === undefined) continue;
    out.push({
      deployment_id: revision.deployment_id,
      revision_id: revision.revision_id,
      bundle_id: revision.bundle_id,
      ...(revision.pack_list_lock_ref === undefined
        ? {}
        : { recorded_pack_list_lock_ref: revision.pack_list_lock_ref }),
      lifecycle: revision.lifecycle,
      deployer_state: state,
      ...problem,
    });
  }
  return out;
}
