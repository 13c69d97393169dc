import { readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join } from "node:path";
import {
  GreenticError,
  isGreenticError,
  prettyJson,
  validateDeploymentSpec,
  type DeploymentSpec,
  type ValidationIssue,
} from "@greentic/deploy-spec";
import {
  checkTrafficSplit,
  type AppliedRuntimeConfig,
  type CredentialsValidation,
  type Deployer,
  type EnvPackHandler,
  type HandlerContext,
  type HealthGateOutcome,
  type RevisionRef,
  type RevisionRuntimeStatus,
  type SplitEntry,
} from "@greentic/env-packs";
import { readListenFile } from "@greentic/runtime";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { applyDeployment, destroyDeployment } from "./apply.js";
import { HandlerRecordSchema, parseStored, RECORD_SCHEMA } from "./documents.js";
import {
  archiveCanaryRevision,
  canaryMetrics,
  revisionLayout,
  canaryStatus,
  canaryTraffic,
  destroyCanary,
  drainCanaryRevision,
  isCanary,
  readCanaryRecord,
  setCanarySplit,
  warmCanaryRevision,
} from "./canary.js";
import { createHostExecutor, hostPath, type HostExecutor } from "./executor.js";
import { copyFileAtomic, exists, hashFile, readText, removePath, writeFileAtomic } from "./host-fs.js";
import { preflight } from "./preflight.js";
import { REVISION_BUNDLES } from "./load.js";
import { readJournal, readJournalAndRequests, type JournalSource } from "./logs.js";
import { proxyCommand, proxyLayout, TIMING_RING } from "./proxy.js";
import {
  installRolloutRunner,
  removeRolloutRunner,
  revisionReadiness,
  rolloutRunnerUnitName,
} from "./rollout-runner.js";
import { installTrafficRepair, readDesiredSplit, removeTrafficRepair, repairCanarySplit } from "./traffic-repair.js";
import { layoutFor } from "./render.js";
import { remoteBindingOf, routeOverSsh, type RemoteCallContext } from "./remote-env.js";
import { deploymentStatus } from "./status.js";

/** Where operations keeps this handler's answers; named in error messages. */
const ANSWERS_FILE = "env-packs/deployer/answers.json";
/** The handler's record, in `ctx.dataDir("single-vm")`. */
const RECORD_FILE = "single-vm-deployer.json";
/** Revision ids become file names of staged bundles. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const absolutePath = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), "must be an absolute path");

/**
 * Answers of `greentic.deployer.single-vm` (`env-packs/deployer/answers.json`): everything the VM
 * deployment needs besides the bundle, which comes from the revision being warmed.
 */
export const SingleVmAnswersSchema = z
  .strictObject({
    /**
     * The DeploymentSpec v1 file (YAML or JSON) of this VM's deployment. `spec.bundle.source` may
     * be left out: each warm replaces it with the staged bundle of the revision.
     */
    spec_path: absolutePath.describe(
      "Absolute path of the DeploymentSpec v1 file (YAML or JSON) for this VM; spec.bundle.source may be omitted: the warmed revision's staged bundle replaces it",
    ),
    /**
     * Staging root: stage, warm and destroy render everything under this directory (units, env
     * file, certificates, bundle copy) and execute nothing, as `op single-vm apply --root`.
     */
    root: absolutePath
      .describe(
        "Staging root: render units, files and the bundle copy under this directory and execute nothing (review, CI, image baking)",
      )
      .optional(),
    /** OCI runtime for Podman in container mode (`runc` where crun fails). */
    oci_runtime: z.string().min(1).describe("OCI runtime for Podman in container mode, e.g. runc").optional(),
    /**
     * The VM, when it is not the machine op runs on: every deployer call then runs on it over
     * SSH (remote-env.ts); spec_path, known_hosts and identity are files of the operator's machine.
     */
    ssh: z
      .string()
      .min(1)
      .describe("The VM as user@host[:port], reached over SSH; without it the VM is the machine op runs on")
      .optional(),
    /** With `ssh`: the known_hosts file holding the VM's host key, the only key accepted. */
    known_hosts: absolutePath
      .describe("With ssh: known_hosts file pinning the VM's host key (required with ssh)")
      .optional(),
    /** With `ssh`: the private key to log in with (default: the user's ssh configuration). */
    identity: absolutePath.describe("With ssh: the private key to log in with").optional(),
    /** With `ssh`: the op executable on the VM. */
    remote_op: absolutePath.describe("With ssh: the op executable on the VM (default /usr/local/bin/op)").optional(),
  })
  .superRefine((v, ctx) => {
    if (v.ssh !== undefined && v.known_hosts === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["known_hosts"],
        message: "is required with ssh (the VM's pinned host key)",
      });
    for (const key of ["known_hosts", "identity", "remote_op"] as const)
      if (v[key] !== undefined && v.ssh === undefined)
        ctx.addIssue({ code: "custom", path: [key], message: "applies with ssh only" });
    if (v.ssh !== undefined && v.root !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["root"],
        message: "a staging root is a directory of this machine: it cannot be combined with ssh",
      });
  });
export type SingleVmAnswers = z.infer<typeof SingleVmAnswersSchema>;

/** Options of {@link singleVmDeployerHandler}. */
export interface SingleVmHandlerOptions {
  /**
   * Where the VM's commands run and its files are (default: this host). The e2e tests pass an
   * nsenter executor for a systemd-nspawn machine. Ignored when the answers set `root`.
   */
  executor?: HostExecutor;
  /**
   * This op's version: sent with every call to a VM over SSH, whose op refuses to act when its
   * own differs. Without it the versions are not compared.
   */
  opVersion?: string;
}

/** A staged revision: its bundle copy and where it is. */
interface StagedRevision {
  deployment_id: string;
  bundle_id: string;
  digest: string;
  /** Path of the copy, on the VM (`vm`) or on this machine (`local`, staging root mode). */
  file: string;
  host: "vm" | "local";
}

/** What the handler remembers between calls (`<dataDir single-vm>/single-vm-deployer.json`). */
interface HandlerRecord {
  schema: typeof RECORD_SCHEMA;
  staged: Record<string, StagedRevision>;
  /** Archived revisions, kept so that archiving again is a no-op rather than `not-found`. */
  archived: Record<string, { deployment_id: string; bundle_id: string }>;
  /** The revision the VM runs (last warmed, not drained), or null. */
  active: RevisionRef | null;
  /** The last split applied to `active`, reported by `runtimeConfig` while `active` is unchanged. */
  split: { deployment_id: string; bundle_id: string; entries: SplitEntry[] } | null;
}

/** Everything one call needs, loaded fresh: answers, spec, executors, record. */
interface Loaded {
  answers: SingleVmAnswers;
  spec: DeploymentSpec;
  /** Reaches the VM (or records, in staging root mode). */
  vm: HostExecutor;
  record: HandlerRecord;
  recordPath: string;
  dataDir: string;
  save(): Promise<void>;
}

/** Runs commands on this machine: the handler's own files and, in root mode, its staged copies. */
const local = createHostExecutor();

/** Parses the answers; `validation` naming the answers file and field. */
function parseAnswers(answers: unknown): SingleVmAnswers {
  const hint = `set ${ANSWERS_FILE} to {"spec_path": "/etc/greentic/<name>/deployment.yaml"} (write the spec with \`op single-vm init-spec\`)`;
  if (answers === undefined) {
    throw new GreenticError("validation", `${ANSWERS_FILE} is missing: greentic.deployer.single-vm needs spec_path`, {
      path: ANSWERS_FILE,
      hint,
    });
  }
  const parsed = SingleVmAnswersSchema.safeParse(answers);
  if (parsed.success) return parsed.data;
  const issues: ValidationIssue[] = parsed.error.issues.map((i) => ({
    path: i.path.join("."),
    code: i.code,
    message: i.message,
  }));
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  throw new GreenticError("validation", `${ANSWERS_FILE}: ${first.path || "(document)"}: ${first.message}${more}`, {
    path: first.path || ANSWERS_FILE,
    issues,
    hint,
  });
}

/**
 * Reads the DeploymentSpec at `path`. A missing `spec.bundle.source` is filled with a placeholder
 * (every warm replaces it); anything else invalid is `validation` naming the file and field.
 */
async function loadSpec(path: string): Promise<DeploymentSpec> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new GreenticError(
      "not-found",
      `${ANSWERS_FILE}: spec_path ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        path: "spec_path",
        hint: "write the spec there with `op single-vm init-spec`, or fix spec_path in the answers",
        cause: error,
      },
    );
  }
  const result = validateVmSpec(text, path);
  if (!result.ok) {
    throw new GreenticError("validation", result.summary, {
      path,
      issues: result.issues,
      hint: "fix the deployment spec (`op single-vm plan <spec>` shows the same problems)",
    });
  }
  return result.value;
}

/**
 * Validates the text of a VM's DeploymentSpec as an environment's deployer reads it:
 * `spec.bundle.source` may be left out (every warm replaces it with the staged revision).
 */
export function validateVmSpec(text: string, source: string): ReturnType<typeof validateDeploymentSpec> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    doc = text; // not YAML/JSON: validation below reports it
  }
  if (typeof doc === "object" && doc !== null) {
    const spec = (doc as { spec?: unknown }).spec;
    if (typeof spec === "object" && spec !== null) {
      const s = spec as { bundle?: Record<string, unknown> };
      s.bundle = { source: REVISION_BUNDLES, ...(s.bundle ?? {}) };
    }
  }
  return validateDeploymentSpec(doc, { source });
}

/** The spec with the staged bundle as its source. */
function specFor(spec: DeploymentSpec, file: string): DeploymentSpec {
  return { ...spec, spec: { ...spec.spec, bundle: { ...spec.spec.bundle, source: file } } };
}

function ref(revision: RevisionRef): RevisionRef {
  return { revision_id: revision.revision_id, deployment_id: revision.deployment_id, bundle_id: revision.bundle_id };
}

function notStaged(revision: RevisionRef): GreenticError {
  return new GreenticError("not-found", `revision ${revision.revision_id} is not staged on this VM`, {
    path: "revision_id",
    hint: "stage it first (op revisions stage), or fix the revision id",
    details: { code: "unknown-revision", revision_id: revision.revision_id },
  });
}

/** Refuses a second deployment on the VM: v1 serves one deployment (one spec) per VM. */
function assertSameDeployment(record: HandlerRecord, revision: RevisionRef): void {
  const active = record.active;
  if (active !== null && active.deployment_id !== revision.deployment_id) {
    throw new GreenticError(
      "conflict",
      `this VM runs deployment ${active.deployment_id} (revision ${active.revision_id}); single-vm v1 runs one deployment per VM, so revision ${revision.revision_id} of deployment ${revision.deployment_id} cannot start`,
      {
        hint: `drain revision ${active.revision_id} first, or bind another VM to this deployment`,
        details: { code: "one-deployment-per-vm" },
      },
    );
  }
}

/** The kind of failure a warm reports: readiness (the adapter's gate gave a journal tail) or the apply itself. */
function failedCheck(error: unknown): string {
  return isGreenticError(error) && error.details?.journal !== undefined ? "readiness" : "apply";
}

/**
 * `greentic.deployer.single-vm@0.1.0`: the single-VM adapter as an environment's deployer.
 *
 * - `stage` copies the revision's `.gtbundle` onto the VM (`/var/lib/greentic/<name>/revisions/
 *   <revision>.gtbundle`; in staging root mode into this handler's data dir) and records its
 *   SHA-256, verified on the copy.
 * - `warm` applies the spec with that bundle (recreate rollout: the running revision stops) and
 *   waits for `/ready` over mTLS; a failure is returned as data. In v1 the VM serves the last
 *   warmed revision.
 * - `applyTrafficSplit` accepts exactly one revision at 10 000 bps (others may be listed at 0);
 *   a revision other than the running one is applied first. Any other split is `validation`.
 * - `drain` stops the VM's deployment when the revision is the running one (data kept);
 *   `archive` removes a revision's staged copy and refuses the running revision (`conflict`).
 * - `destroy` removes the deployment (units, mount, generated files; data and certificates
 *   kept) and the staged copies.
 * - With `root` in the answers everything is rendered under that directory and nothing runs.
 */
export function singleVmDeployerHandler(options: SingleVmHandlerOptions = {}): EnvPackHandler {
  async function load(ctx: HandlerContext): Promise<Loaded> {
    const answers = parseAnswers(ctx.answers);
    const spec = await loadSpec(answers.spec_path);
    const vm = answers.root !== undefined ? createHostExecutor({ root: answers.root }) : (options.executor ?? local);
    // The path only: reads (status, plan) never create the data directory; `save` does.
    const dataDir = await ctx.dataDir("single-vm", { create: false });
    const recordPath = join(dataDir, RECORD_FILE);
    const record = await readRecord(recordPath);
    const save = async () => {
      await ctx.dataDir("single-vm");
      await writeFileAtomic(local, recordPath, prettyJson(record as unknown as Record<string, unknown>), 0o600);
    };
    return { answers, spec, vm, record, recordPath, dataDir, save };
  }

  const planOptions = (l: Loaded) => ({
    executor: l.vm,
    specBundle: false,
    ...(l.answers.oci_runtime !== undefined ? { ociRuntime: l.answers.oci_runtime } : {}),
  });
  const executorOf = (l: Loaded, staged: StagedRevision) => (staged.host === "local" ? local : l.vm);

  /** Applies a staged revision and waits for readiness; the outcome is data. */
  async function activate(
    ctx: HandlerContext,
    l: Loaded,
    revision: RevisionRef,
    timeoutMs?: number,
  ): Promise<HealthGateOutcome> {
    const staged = l.record.staged[revision.revision_id];
    if (staged === undefined) throw notStaged(revision);
    assertSameDeployment(l.record, revision);
    ctx.log?.({
      event: "single-vm.apply",
      level: "info",
      revision_id: revision.revision_id,
      deployment: l.spec.metadata.name,
    });
    try {
      await applyDeployment(specFor(l.spec, staged.file), {
        ...planOptions(l),
        ...(timeoutMs !== undefined ? { readyTimeoutMs: timeoutMs } : {}),
        onProgress: (line) => ctx.log?.({ event: "single-vm.progress", level: "debug", message: line }),
      });
    } catch (error) {
      // Recreate: whatever ran before may be stopped; the VM serves no known-good revision now.
      if (l.record.active !== null) {
        l.record.active = null;
        l.record.split = null;
        await l.save();
      }
      ctx.log?.({ event: "single-vm.warm-failed", level: "error", revision_id: revision.revision_id });
      return { ok: false, failure: { failed_checks: [failedCheck(error)], message: (error as Error).message } };
    }
    if (l.record.active?.revision_id !== revision.revision_id) {
      l.record.active = ref(revision);
      l.record.split = null;
      await l.save();
    }
    const url = await publicUrl(l);
    return url === undefined ? { ok: true } : { ok: true, url };
  }

  /** The running runtime's public URL (from its `listen.json`), if it runs. */
  async function publicUrl(l: Loaded): Promise<string | undefined> {
    if (l.vm.mode !== "execute") return undefined;
    const listen = await readListenFile(hostPath(l.vm, l.spec.spec.storage.stateDir)).catch(() => null);
    if (listen === null) return undefined;
    const host = listen.public.host.includes(":") ? `[${listen.public.host}]` : listen.public.host;
    return `http://${host}:${listen.public.port}/`;
  }

  function runtimeConfigOf(ctx: HandlerContext, record: HandlerRecord): AppliedRuntimeConfig {
    const { active, split } = record;
    if (active === null) return { env_id: ctx.envId, revisions: [] };
    if (split?.entries.some((e) => e.revision_id === active.revision_id && e.weight_bps === 10_000)) {
      return {
        env_id: ctx.envId,
        revisions: split.entries.map((e) => ({
          deployment_id: split.deployment_id,
          bundle_id: split.bundle_id,
          revision_id: e.revision_id,
          weight_bps: e.weight_bps,
        })),
      };
    }
    return { env_id: ctx.envId, revisions: [{ ...active, weight_bps: 10_000 }] };
  }

  /** Canary: warms the revision beside the others (0 %, or 100 % on an empty VM); failure is data. */
  async function warmCanary(
    ctx: HandlerContext,
    l: Loaded,
    revision: RevisionRef,
    timeoutMs?: number,
  ): Promise<HealthGateOutcome> {
    const staged = l.record.staged[revision.revision_id];
    if (staged === undefined) throw notStaged(revision);
    // Side by side, several deployments share the VM: the proxy routes by their route bindings.
    try {
      await warmCanaryRevision(
        l.spec,
        { id: revision.revision_id, file: staged.file, digest: staged.digest, deployment: revision.deployment_id },
        {
          ...planOptions(l),
          ...(timeoutMs !== undefined ? { readyTimeoutMs: timeoutMs } : {}),
          onProgress: (line) => ctx.log?.({ event: "single-vm.progress", level: "debug", message: line }),
        },
      );
    } catch (error) {
      ctx.log?.({ event: "single-vm.warm-failed", level: "error", revision_id: revision.revision_id });
      return { ok: false, failure: { failed_checks: [failedCheck(error)], message: (error as Error).message } };
    }
    if (l.record.active === null) {
      l.record.active = ref(revision);
      await l.save();
    }
    if (l.vm.mode !== "execute") return { ok: true };
    const r = (await readCanaryRecord(l.vm, l.spec)).revisions[revision.revision_id];
    return r ? { ok: true, url: `http://127.0.0.1:${r.public_port}/` } : { ok: true };
  }

  /**
   * Canary, when the store is a directory on the VM itself (op runs there, as root): the repair
   * units that put HAProxy back on the store's split after a command died half-way. Skipped
   * elsewhere (the store on another machine, a staging root, the single-file op, which has no
   * repair script beside it): there the next traffic or status command repairs.
   */
  async function ensureTrafficRepair(ctx: HandlerContext, l: Loaded, deploymentId: string): Promise<void> {
    if (ctx.runtimeConfigFile === undefined || l.vm.mode !== "execute" || l.vm.root !== "/") return;
    const script = trafficRepairScript();
    if (script === undefined || !(await exists(script))) return;
    await installTrafficRepair(
      l.spec,
      {
        command: [process.execPath, script],
        specPath: l.answers.spec_path,
        desiredFile: ctx.runtimeConfigFile,
        deploymentId,
      },
      planOptions(l),
    );
  }

  /**
   * Canary: the store's committed split applied to the VM when HAProxy (or the canary record)
   * lags it, so that every command reading the live traffic (traffic show, status, the traffic
   * verbs) also repairs a command that died before its push. Only the VM changes, never the store;
   * a failure is logged and the drift stays visible.
   */
  async function repairFromStore(ctx: HandlerContext, l: Loaded): Promise<void> {
    const last = l.record.split?.deployment_id;
    if (ctx.runtimeConfigFile === undefined || last === undefined || l.vm.mode !== "execute") return;
    try {
      // Every deployment the VM routes (several share its proxy), else the one it serves.
      const routed = Object.keys((await readCanaryRecord(l.vm, l.spec)).routes ?? {});
      for (const deploymentId of routed.length > 0 ? routed : [last]) {
        const desired = await readDesiredSplit(ctx.runtimeConfigFile, deploymentId);
        const r = await repairCanarySplit(l.spec, desired, { ...planOptions(l), deploymentId });
        if (r.repaired)
          ctx.log?.({
            event: "single-vm.traffic-repaired",
            level: "warn",
            deployment_id: deploymentId,
            entries: desired,
          });
      }
    } catch (error) {
      ctx.log?.({ event: "single-vm.traffic-repair-failed", level: "warn", message: (error as Error).message });
    }
  }

  /** Canary: what the proxy applies now (observed), named with the deployment's ids. */
  async function canaryRuntimeConfig(ctx: HandlerContext, l: Loaded): Promise<AppliedRuntimeConfig> {
    const t = await canaryTraffic(l.spec, planOptions(l));
    const entries = t.live ?? t.recorded;
    return {
      env_id: ctx.envId,
      revisions: entries
        .filter((e) => e.weight_bps > 0)
        .map((e) => {
          const staged = l.record.staged[e.revision_id];
          return {
            deployment_id: staged?.deployment_id ?? l.record.split?.deployment_id ?? "",
            bundle_id: staged?.bundle_id ?? l.record.split?.bundle_id ?? "",
            revision_id: e.revision_id,
            weight_bps: e.weight_bps,
          };
        }),
    };
  }

  const deployer: Deployer = {
    async stage(ctx, request) {
      const { revision, bundlePath } = request;
      if (!SAFE_ID.test(revision.revision_id)) {
        throw new GreenticError(
          "invalid-argument",
          `revision_id ${JSON.stringify(revision.revision_id)} is not a safe file name`,
          {
            path: "revision_id",
            hint: "revision ids are ULIDs (letters and digits)",
          },
        );
      }
      const l = await load(ctx);
      const digest = await hashFile(bundlePath);
      if (digest === null) {
        throw new GreenticError("not-found", `bundle ${bundlePath} does not exist`, {
          path: "bundlePath",
          hint: "build it with `op bundles build`, or fix the path",
        });
      }
      const existing = l.record.staged[revision.revision_id];
      if (
        existing !== undefined &&
        existing.digest === `sha256:${digest}` &&
        (await exists(hostPath(executorOf(l, existing), existing.file)))
      ) {
        return {
          revision_id: revision.revision_id,
          bundle_digest: existing.digest,
          location: existing.file,
          unchanged: true,
        };
      }
      // Root mode: the adapter reads sources from this machine, so the copy stays here.
      const host: StagedRevision["host"] = l.vm.mode === "record" ? "local" : "vm";
      const file =
        host === "local"
          ? join(l.dataDir, "revisions", `${revision.revision_id}.gtbundle`)
          : `${layoutFor(l.spec).dataRoot}/revisions/${revision.revision_id}.gtbundle`;
      const executor = host === "local" ? local : l.vm;
      if (host === "local") await ctx.dataDir("single-vm");
      const copied = await copyFileAtomic(executor, bundlePath, file, 0o644);
      if (copied !== digest) {
        await removePath(executor, file);
        throw new GreenticError(
          "integrity",
          `staged copy ${file} has sha256:${copied}, but ${bundlePath} had sha256:${digest}: the bundle changed while it was copied`,
          {
            hint: "stage again once the bundle file is stable",
          },
        );
      }
      l.record.staged[revision.revision_id] = {
        deployment_id: revision.deployment_id,
        bundle_id: revision.bundle_id,
        digest: `sha256:${digest}`,
        file,
        host,
      };
      delete l.record.archived[revision.revision_id];
      await l.save();
      ctx.log?.({
        event: "single-vm.staged",
        level: "info",
        revision_id: revision.revision_id,
        digest: `sha256:${digest}`,
        location: file,
      });
      return { revision_id: revision.revision_id, bundle_digest: `sha256:${digest}`, location: file };
    },

    async warm(ctx, request) {
      const l = await load(ctx);
      if (isCanary(l.spec)) return warmCanary(ctx, l, request.revision, request.timeoutMs);
      return activate(ctx, l, request.revision, request.timeoutMs);
    },

    async applyTrafficSplit(ctx, request) {
      checkTrafficSplit(request);
      const { split } = request;
      {
        const l = await load(ctx);
        if (isCanary(l.spec)) {
          for (const e of split.entries)
            if (e.weight_bps > 0 && l.record.staged[e.revision_id] === undefined)
              throw notStaged({
                revision_id: e.revision_id,
                deployment_id: split.deployment_id,
                bundle_id: split.bundle_id,
              });
          // The VM's repair unit first, so that it is in place should this command die before its push.
          await ensureTrafficRepair(ctx, l, split.deployment_id);
          await setCanarySplit(l.spec, split.entries, {
            ...planOptions(l),
            specBundle: false,
            deployment: {
              id: split.deployment_id,
              hosts: split.route?.hosts ?? [],
              path_prefixes: split.route?.path_prefixes ?? [],
            },
          });
          l.record.split = {
            deployment_id: split.deployment_id,
            bundle_id: split.bundle_id,
            entries: split.entries.map((e) => ({ revision_id: e.revision_id, weight_bps: e.weight_bps })),
          };
          await l.save();
          return canaryRuntimeConfig(ctx, l);
        }
      }
      const weighted = split.entries.filter((e) => e.weight_bps > 0);
      if (weighted.length !== 1) {
        throw new GreenticError(
          "validation",
          `single-vm serves one revision at 100 % in v1; the split for ${split.deployment_id} gives ${split.entries.map((e) => `${e.revision_id} ${e.weight_bps / 100} %`).join(", ")}`,
          {
            path: "entries",
            hint: "single-vm v1 runs one revision at a time: to move traffic, set the new revision to 100 % (10000 bps); the VM then switches to it (recreate: the old revision stops)",
            details: { code: "split-unsupported", deployment_id: split.deployment_id },
          },
        );
      }
      const target = request.revisions.find((r) => r.revision_id === weighted[0]!.revision_id)!;
      const l = await load(ctx);
      if (l.record.staged[target.revision_id] === undefined) throw notStaged(target);
      if (l.record.active?.revision_id !== target.revision_id) {
        const gate = await activate(ctx, l, target);
        if (!gate.ok) {
          throw new GreenticError(
            "precondition-failed",
            `revision ${target.revision_id} did not become ready on this VM: ${gate.failure.message}`,
            {
              hint: "see `op single-vm status <spec>` and the unit's journal; fix the cause and set the traffic again",
              details: { code: "health-gate-failed", failed_checks: gate.failure.failed_checks },
            },
          );
        }
      }
      l.record.split = {
        deployment_id: split.deployment_id,
        bundle_id: split.bundle_id,
        entries: split.entries.map((e) => ({ revision_id: e.revision_id, weight_bps: e.weight_bps })),
      };
      await l.save();
      return runtimeConfigOf(ctx, l.record);
    },

    async drain(ctx, revision) {
      const l = await load(ctx);
      const id = revision.revision_id;
      if (l.record.staged[id] === undefined && l.record.archived[id] === undefined) throw notStaged(revision);
      if (isCanary(l.spec)) {
        const r = await drainCanaryRevision(l.spec, id, planOptions(l));
        ctx.log?.({ event: "single-vm.drained", level: "info", revision_id: id, ...r });
        return;
      }
      if (l.record.active?.revision_id !== id) return; // not running: nothing to stop
      await destroyDeployment(l.spec, planOptions(l));
      l.record.active = null;
      l.record.split = null;
      await l.save();
      ctx.log?.({ event: "single-vm.drained", level: "info", revision_id: id });
    },

    async archive(ctx, revision) {
      const l = await load(ctx);
      const id = revision.revision_id;
      if (l.record.archived[id] !== undefined) return;
      const staged = l.record.staged[id];
      if (staged === undefined) throw notStaged(revision);
      if (isCanary(l.spec)) {
        // A revision still warm (ready without traffic, or `failed` after a rollout's breach,
        // which the reference lets go straight to archived) is drained first: it leaves the
        // proxy, its in-flight requests finish, its unit stops. Refused while it carries traffic.
        const drained = await drainCanaryRevision(l.spec, id, planOptions(l));
        if (drained.waited_ms > 0)
          ctx.log?.({ event: "single-vm.drained", level: "info", revision_id: id, ...drained });
        await archiveCanaryRevision(l.spec, id, planOptions(l));
        await removePath(executorOf(l, staged), staged.file);
        delete l.record.staged[id];
        l.record.archived[id] = { deployment_id: staged.deployment_id, bundle_id: staged.bundle_id };
        await l.save();
        return;
      }
      if (l.record.active?.revision_id === id) {
        throw new GreenticError("conflict", `revision ${id} is the one this VM runs; it cannot be archived`, {
          hint: "move traffic to another revision (op traffic set, 100 %) or drain it first",
          details: { code: "revision-live", revision_id: id },
        });
      }
      await removePath(executorOf(l, staged), staged.file);
      delete l.record.staged[id];
      l.record.archived[id] = { deployment_id: staged.deployment_id, bundle_id: staged.bundle_id };
      await l.save();
    },

    async status(ctx) {
      const l = await load(ctx);
      if (isCanary(l.spec)) {
        const c = await canaryStatus(l.spec, planOptions(l));
        return Object.entries(l.record.staged)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([revision_id, staged]): RevisionRuntimeStatus => {
            const r = c.revisions.find((x) => x.revision_id === revision_id);
            const state: RevisionRuntimeStatus["state"] =
              r?.active === "active" ? "running" : r?.active === "failed" ? "failed" : "stopped";
            return {
              revision_id,
              deployment_id: staged.deployment_id,
              state,
              ...(r?.main_pid ? { pid: r.main_pid } : {}),
              ...(r && state === "running"
                ? { url: `http://127.0.0.1:${r.public_port}/`, admin_url: `https://127.0.0.1:${r.admin_port}` }
                : {}),
            };
          });
      }
      const active = l.record.active;
      const out: RevisionRuntimeStatus[] = [];
      for (const [revision_id, staged] of Object.entries(l.record.staged).sort(([a], [b]) => a.localeCompare(b))) {
        if (active?.revision_id !== revision_id) {
          out.push({ revision_id, deployment_id: staged.deployment_id, state: "stopped" });
          continue;
        }
        const s = await deploymentStatus(specFor(l.spec, staged.file), planOptions(l));
        const unit = s.units?.service.active;
        const state: RevisionRuntimeStatus["state"] =
          unit === "active" ? "running" : unit === "failed" ? "failed" : "stopped";
        const url = state === "running" ? await publicUrl(l) : undefined;
        out.push({
          revision_id,
          deployment_id: staged.deployment_id,
          state,
          ...(s.mainPid !== null ? { pid: s.mainPid } : {}),
          ...(url !== undefined ? { url } : {}),
          admin_url: `https://${l.spec.spec.runtime.admin.bind}`,
        });
      }
      return out;
    },

    async runtimeConfig(ctx) {
      const l = await load(ctx);
      if (isCanary(l.spec)) {
        await repairFromStore(ctx, l);
        return canaryRuntimeConfig(ctx, l);
      }
      return runtimeConfigOf(ctx, l.record);
    },

    async revisionMetrics(ctx, options) {
      const l = await load(ctx);
      if (!isCanary(l.spec) || l.vm.mode !== "execute") return [];
      const metrics = await canaryMetrics(l.spec, { ...planOptions(l), sinceMs: options.sinceMs });
      return metrics.map((m) => ({
        revision_id: m.revision_id,
        requests: m.window.requests,
        errors_5xx: m.window.errors_5xx,
        error_rate: m.window.error_rate,
        p99_ms: m.window.p99_ms,
        counters: { requests: m.requests, errors_5xx: m.errors_5xx },
      }));
    },

    async revisionReadiness(ctx, revisionId) {
      const l = await load(ctx);
      if (!isCanary(l.spec) || l.vm.mode !== "execute")
        return { ready: false, detail: "nothing runs here (not a canary deployment on a live VM)" };
      return revisionReadiness(l.spec, revisionId, planOptions(l));
    },

    async startRolloutRunner(ctx, request) {
      const l = await load(ctx);
      if (!isCanary(l.spec) || l.vm.mode !== "execute")
        throw new GreenticError(
          "precondition-failed",
          `a rollout needs revisions side by side on a live VM: deployment ${l.spec.metadata.name} ${isCanary(l.spec) ? "is staged under a root, where nothing runs" : "uses rollout.strategy recreate"}`,
          { hint: "set spec.rollout.strategy: canary and bind the environment to the VM itself (no --root)" },
        );
      return installRolloutRunner(
        {
          envId: ctx.envId,
          rolloutId: request.rollout_id,
          opCommand: request.op_command,
          storeRoot: request.store_root,
          home: request.home,
        },
        planOptions(l),
      );
    },

    async readLogs(ctx, request) {
      const l = await load(ctx);
      const canary = isCanary(l.spec);
      // Each revision's own unit (canary), or the one unit of the revision the VM runs (recreate).
      const revisionUnit = (id: string): string | undefined => {
        if (canary) return l.record.staged[id] !== undefined ? revisionLayout(l.spec, id).serviceUnit : undefined;
        return l.record.active?.revision_id === id ? layoutFor(l.spec).serviceUnit : undefined;
      };
      const sources: JournalSource[] = [];
      if (request.revision !== undefined) {
        const unit = revisionUnit(request.revision);
        if (unit === undefined)
          throw new GreenticError("not-found", `revision ${request.revision} has no unit on this VM`, {
            hint: canary
              ? "a revision has a unit once warmed (op revisions warm, op deploy); an archived one has none"
              : "with rollout.strategy recreate only the revision the VM runs has a unit; see `op status`",
            details: { revision_id: request.revision },
          });
        sources.push({ source: request.revision, unit });
      } else if (request.router === true) {
        if (!canary)
          throw new GreenticError("not-found", `deployment ${l.spec.metadata.name} has no proxy on this VM`, {
            hint: "the proxy runs with spec.rollout.strategy canary; with recreate the runtime serves publicBind itself",
          });
        sources.push({ source: "router", unit: proxyLayout(l.spec).unit });
      } else {
        for (const id of Object.keys(l.record.staged).sort()) {
          const unit = revisionUnit(id);
          if (unit !== undefined) sources.push({ source: id, unit });
        }
        if (canary)
          sources.push(
            { source: "router", unit: proxyLayout(l.spec).unit },
            { source: "rollout", unit: rolloutRunnerUnitName(ctx.envId) },
          );
      }
      const options = { lines: request.lines, sinceMs: request.sinceMs, after: request.after };
      // The request lines are in the proxy's ring, not the journal (logs.ts says why): the
      // router's all of them; a canary revision's those of its backend.
      const ring = () => proxyCommand(l.vm, l.spec, `show events ${TIMING_RING}`);
      if (sources.some((s) => s.source === "router")) return readJournalAndRequests(l.vm, sources, options, ring);
      if (canary && request.revision !== undefined)
        return readJournalAndRequests(l.vm, sources, options, ring, request.revision);
      return readJournal(l.vm, sources, options);
    },

    async routerStatus(ctx) {
      const l = await load(ctx);
      if (!isCanary(l.spec) || l.vm.mode !== "execute") return { state: "stopped" };
      const c = await canaryStatus(l.spec, planOptions(l)).catch(() => null);
      if (c === null || c.proxy.active === "inactive" || c.proxy.active === "unknown") return { state: "stopped" };
      if (c.proxy.active !== "active") return { state: "failed" };
      return { state: "running", url: c.proxy.url };
    },

    async destroy(ctx) {
      const l = await load(ctx);
      if (isCanary(l.spec)) {
        const before = await readCanaryRecord(l.vm, l.spec).catch(() => null);
        if (l.vm.mode === "execute") await removeTrafficRepair(l.spec, planOptions(l));
        await destroyCanary(l.spec, planOptions(l));
        if (l.vm.mode === "execute") await removeRolloutRunner(ctx.envId, planOptions(l));
        for (const staged of Object.values(l.record.staged)) await removePath(executorOf(l, staged), staged.file);
        await rm(l.recordPath, { force: true });
        const stopped = Object.entries(before?.revisions ?? {})
          .filter(([, r]) => r.status === "warm")
          .map(([id]) => id);
        ctx.log?.({ event: "single-vm.destroyed", level: "info", stopped });
        return { stopped };
      }
      await destroyDeployment(l.spec, planOptions(l));
      const stopped = l.record.active !== null ? [l.record.active.revision_id] : [];
      for (const staged of Object.values(l.record.staged)) await removePath(executorOf(l, staged), staged.file);
      await rm(l.recordPath, { force: true });
      ctx.log?.({ event: "single-vm.destroyed", level: "info", stopped });
      return { stopped };
    },
  };

  /** The VM over SSH (answers with `ssh`) and the spec to send it, or undefined: the VM is this machine. */
  async function remoteOf(ctx: HandlerContext): Promise<RemoteCallContext | undefined> {
    const answers = parseAnswers(ctx.answers);
    const binding = remoteBindingOf(answers);
    if (binding === undefined) return undefined;
    const spec = await loadSpec(answers.spec_path);
    return { binding, spec: JSON.stringify(spec), ociRuntime: answers.oci_runtime };
  }
  const routed = routeOverSsh(deployer, (ctx) => validateHere(ctx), remoteOf, options.opVersion);

  /** The credentials check on this machine (root, and the VM's preflight). */
  async function validateHere(ctx: HandlerContext): Promise<CredentialsValidation> {
    const checked_at = new Date().toISOString();
    const l = await load(ctx);
    if (l.vm.mode === "record") return { result: "pass", missing_capabilities: [], checked_at }; // staging root: nothing runs
    const missing: string[] = [];
    if (process.getuid?.() !== 0) missing.push("root");
    const result = await preflight(l.spec, planOptions(l));
    // Once deployed, the admin port is taken by this deployment itself.
    const ignored = l.record.active !== null ? ["admin port"] : [];
    for (const check of result.checks) if (!check.ok && !ignored.includes(check.name)) missing.push(check.name);
    return { result: missing.length === 0 ? "pass" : "fail", missing_capabilities: missing, checked_at };
  }

  return {
    slot: "deployer",
    descriptorPath: "greentic.deployer.single-vm",
    supportedVersions: "^0.1.0",
    description:
      "Deploys to this Linux VM under systemd (read-only squashfs bundle, loopback mTLS admin, health-gated recreate rollout); one revision at 100 % in v1.",
    answersSchema: SingleVmAnswersSchema,
    deployer: routed.deployer,
    credentials: {
      requirements: () => [
        {
          name: "root",
          description:
            "root on the VM: creates the service user, writes units under /etc/systemd/system, mounts the bundle",
          material: false,
        },
        {
          name: "systemd",
          description:
            "systemd running as PID 1 on the VM, with squashfs and loop devices (see `op single-vm preflight`)",
          material: false,
        },
      ],
      validate: routed.validate,
    },
  };
}

/** Reads the handler record (an empty one when absent); `integrity` when it is corrupt. */
async function readRecord(path: string): Promise<HandlerRecord> {
  const record = parseStored(
    path,
    await readText(path),
    HandlerRecordSchema,
    "restore it from a backup, or remove it and stage the revisions again",
  );
  return (
    (record as HandlerRecord | null) ?? { schema: RECORD_SCHEMA, staged: {}, archived: {}, active: null, split: null }
  );
}

/**
 * The repair script in this package's build, found from the package's own directory: this
 * library may be bundled into another (op's dist/), which carries the library but not the script.
 * None in the single-file op, which has no package directory.
 */
function trafficRepairScript(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve("@greentic/adapter-single-vm/package.json");
    return join(dirname(pkg), "dist", "traffic-repair-main.js");
  } catch {
    return undefined;
  }
}
