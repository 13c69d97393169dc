import { readdir, readFile } from "node:fs/promises";
import {
  canonicalDigest,
  deploymentMode,
  GreenticError,
  issuesError,
  parseDocument,
  prettyJson,
  validateDeploymentSpec,
  type DeploymentSpec,
} from "@greentic/deploy-spec";
import { createHostExecutor, hostPath, type HostExecutor } from "./executor.js";
import { exists, hashFile, readText, sha256, statPath } from "./host-fs.js";
import { bundleCopyPath, layoutFor, renderDesiredState, type DesiredState, type Layout } from "./render.js";

import { PLAN_SCHEMA, readStateFile, SavedPlanSchema, STATE_SCHEMA } from "./documents.js";

export { PLAN_SCHEMA, STATE_SCHEMA };

/** `plan --detailed-exitcode` semantics (Terraform's): 0 no changes, 1 error, 2 changes pending. */
export const PLAN_EXIT_CODES = { noChanges: 0, error: 1, changes: 2 } as const;

/** `<stateDir>/single-vm-state.json`: what the last apply did. */
export interface SingleVmState {
  schema: typeof STATE_SCHEMA;
  deployment: string;
  mode: "native" | "container";
  specDigest: string;
  /** `sha256:<hex>` of the bundle now mounted. */
  bundleDigest: string;
  /** The bundle mounted before the last change, kept on disk for `rollback`. */
  previousBundleDigest?: string | undefined;
  runtimeDigest?: string | undefined;
  /** SHA-256 of every generated file, by target path. */
  unitHashes: Record<string, string>;
  lastResult: { action: "apply" | "rollback"; ok: boolean; at: string; message?: string | undefined };
}

export interface UnitObservation {
  active: string;
  enabled: string;
}

/** What the host looks like now (target paths). */
export interface ObservedState {
  files: Record<string, string | null>;
  dirs: Record<string, { mode: number; uid: number; gid: number } | null>;
  user: { uid: number; gid: number } | null;
  group: number | null;
  bundleCopy: boolean;
  runtimeCopy: boolean;
  certificates: { server: boolean; client: boolean };
  /** Unit states, `null` when systemd cannot be asked (staging). */
  units: { service: UnitObservation; mount: UnitObservation } | null;
  mount: { source: string; options: string; fstype: string } | null;
  extraBundles: string[];
  extraRuntimes: string[];
  state: SingleVmState | null;
}

export type ActionVerb = "create" | "update" | "delete" | "restart";
export type ActionResource =
  | "group"
  | "user"
  | "dir"
  | "certificates"
  | "bundle"
  | "runtime"
  | "file"
  | "unit"
  | "state";

export interface PlanAction {
  action: ActionVerb;
  resource: ActionResource;
  target: string;
  reason: string;
}

/** Options that change what gets rendered or where it runs. */
export interface PlanOptions {
  /** Staging root (`--root DIR`): render under DIR and execute nothing. */
  root?: string;
  executor?: HostExecutor;
  /** OCI runtime for podman (`--runtime`), e.g. `runc`. */
  ociRuntime?: string;
  /** Mount this already-copied bundle (`sha256:<hex>`) instead of the spec's source (rollback). */
  bundleDigest?: string;
  /**
   * Canary strategy: make `spec.bundle.source` a revision of its own (default true, as the
   * `op single-vm` verbs do). The environment's deployer passes false: its revisions come from
   * `stage` and `warm`.
   */
  specBundle?: boolean;
}

export interface SingleVmPlan {
  schema: typeof PLAN_SCHEMA;
  deployment: string;
  mode: "native" | "container";
  spec: DeploymentSpec;
  specDigest: string;
  bundleDigest: string;
  runtimeDigest?: string | undefined;
  /** Digest of the observed host state the actions were computed from. */
  observedFingerprint: string;
  ociRuntime?: string | undefined;
  /** True when the bundle was pinned (rollback) rather than read from the spec's source. */
  pinnedBundle: boolean;
  actions: PlanAction[];
  changes: boolean;
  /** 0 no changes, 2 changes pending (`--detailed-exitcode`). */
  exitCode: 0 | 2;
  summary: string;
}

/** The render context's container details, from the host (or defaults in staging). */
export interface HostFacts {
  uid?: number | undefined;
  gid?: number | undefined;
  quadlet: boolean;
  enginePath: string;
}

export function sourcePath(uriOrPath: string): string {
  return uriOrPath.startsWith("file://") ? decodeURIComponent(uriOrPath.slice("file://".length)) : uriOrPath;
}

/** Where source artefacts (bundle, runtime) are read: the staging machine itself in `--root` mode. */
export function sourceHostPath(executor: HostExecutor, path: string): string {
  return executor.mode === "record" ? path : hostPath(executor, path);
}

export function executorFor(options: PlanOptions): HostExecutor {
  return options.executor ?? createHostExecutor(options.root === undefined ? {} : { root: options.root });
}

export async function lookupIds(
  executor: HostExecutor,
  user: string,
  group: string,
): Promise<{ user: { uid: number; gid: number } | null; group: number | null }> {
  if (executor.mode === "record") {
    // Staging: read the staged root's own databases, if any.
    const pw = (await readText(hostPath(executor, "/etc/passwd"))) ?? "";
    const gr = (await readText(hostPath(executor, "/etc/group"))) ?? "";
    const u = pw
      .split("\n")
      .map((l) => l.split(":"))
      .find((f) => f[0] === user);
    const g = gr
      .split("\n")
      .map((l) => l.split(":"))
      .find((f) => f[0] === group);
    return { user: u ? { uid: Number(u[2]), gid: Number(u[3]) } : null, group: g ? Number(g[2]) : null };
  }
  const u = await executor.run("getent", ["passwd", user]);
  const g = await executor.run("getent", ["group", group]);
  const uf = u.stdout.trim().split(":");
  const gf = g.stdout.trim().split(":");
  return {
    user: u.code === 0 && uf.length >= 4 ? { uid: Number(uf[2]), gid: Number(uf[3]) } : null,
    group: g.code === 0 && gf.length >= 3 ? Number(gf[2]) : null,
  };
}

async function hostFacts(
  executor: HostExecutor,
  spec: DeploymentSpec,
  ids: Awaited<ReturnType<typeof lookupIds>>,
): Promise<HostFacts> {
  const engine = spec.spec.runtime.engine ?? "podman";
  let enginePath = `/usr/bin/${engine}`;
  let quadlet = false;
  if (executor.mode === "execute" && deploymentMode(spec) === "container") {
    const which = await executor.run("sh", ["-c", `command -v ${engine}`]);
    if (which.code === 0 && which.stdout.trim().startsWith("/")) enginePath = which.stdout.trim();
    if (engine === "podman") quadlet = await quadletSupported(executor);
  }
  return { uid: ids.user?.uid, gid: ids.group ?? undefined, quadlet, enginePath };
}

/** Quadlet needs podman >= 4.4 and its systemd generator installed. */
export async function quadletSupported(executor: HostExecutor): Promise<boolean> {
  const version = await executor.run("podman", ["version", "--format", "{{.Client.Version}}"]);
  const m = /^(\d+)\.(\d+)/.exec(version.stdout.trim());
  if (version.code !== 0 || !m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < 4 || (major === 4 && minor < 4)) return false;
  for (const dir of [
    "/usr/lib/systemd/system-generators",
    "/lib/systemd/system-generators",
    "/usr/local/lib/systemd/system-generators",
  ]) {
    if (await exists(hostPath(executor, `${dir}/podman-system-generator`))) return true;
  }
  return false;
}

/** The digest (hex) of a source artefact, or `not-found` naming the spec field and a fix. */
export async function digestOfSource(executor: HostExecutor, path: string, field: string): Promise<string> {
  const digest = await hashFile(sourceHostPath(executor, path));
  if (digest === null) {
    throw new GreenticError("not-found", `${field}: ${path} does not exist on the target host`, {
      path: field,
      hint:
        field === "spec.bundle.source"
          ? "build one with `op bundles build` and copy it there, or fix the path"
          : "install the runtime there or fix the path",
    });
  }
  return digest;
}

/** Observes the host and computes the desired state for `spec`. */
export async function observe(
  spec: DeploymentSpec,
  options: PlanOptions = {},
): Promise<{
  executor: HostExecutor;
  desired: DesiredState;
  observed: ObservedState;
  bundleDigest: string;
  runtimeDigest?: string | undefined;
  pinned: boolean;
}> {
  const executor = executorFor(options);
  const layout = layoutFor(spec);
  const mode = deploymentMode(spec);
  const pinned = options.bundleDigest !== undefined;
  let bundleDigest: string;
  if (options.bundleDigest !== undefined) {
    bundleDigest = options.bundleDigest.replace(/^sha256:/, "");
    if (!(await exists(hostPath(executor, bundleCopyPath(layout, bundleDigest))))) {
      throw new GreenticError(
        "not-found",
        `bundle sha256:${bundleDigest} is no longer on the host (${bundleCopyPath(layout, bundleDigest)})`,
        {
          hint: "apply the spec again to deploy its bundle",
        },
      );
    }
  } else {
    bundleDigest = await digestOfSource(executor, sourcePath(spec.spec.bundle.source), "spec.bundle.source");
  }
  const runtimeDigest =
    mode === "native"
      ? await digestOfSource(executor, sourcePath(spec.spec.runtime.binary!), "spec.runtime.binary")
      : undefined;
  const ids = await lookupIds(executor, spec.spec.service.user, spec.spec.service.group);
  const facts = await hostFacts(executor, spec, ids);
  const desired = renderDesiredState(spec, {
    bundleDigest,
    runtimeDigest,
    container:
      mode === "container"
        ? {
            quadlet: facts.quadlet,
            enginePath: facts.enginePath,
            ociRuntime: options.ociRuntime,
            user:
              facts.uid !== undefined && facts.gid !== undefined
                ? `${facts.uid}:${facts.gid}`
                : `${spec.spec.service.user}:${spec.spec.service.group}`,
          }
        : undefined,
  });

  const files: ObservedState["files"] = {};
  // Every file this deployment may own, so that a mode switch deletes the other mode's files.
  const candidates = new Set([
    ...desired.files.map((f) => f.path),
    layout.serviceFile,
    layout.quadletFile,
    layout.mountFile,
    layout.envFile,
  ]);
  for (const path of [...candidates].sort()) {
    const text = await readText(hostPath(executor, path));
    files[path] = text === null ? null : sha256(text);
  }
  const dirs: ObservedState["dirs"] = {};
  for (const d of desired.dirs) {
    const s = await statPath(hostPath(executor, d.path));
    dirs[d.path] = s?.isDir ? { mode: s.mode, uid: s.uid, gid: s.gid } : null;
  }
  const mtls = spec.spec.runtime.admin.mtls;
  const serverFiles = await Promise.all(
    [mtls.caFile, mtls.certFile, mtls.keyFile].map((f) => exists(hostPath(executor, f))),
  );
  const clientFiles = await Promise.all(
    ["client.crt", "client.key", "ca.crt"].map((f) => exists(hostPath(executor, `${layout.deployerDir}/${f}`))),
  );

  // A damaged state file is treated as absent here: the plan then rewrites it.
  const state: SingleVmState | null = await readStateFile(hostPath(executor, layout.stateFile), layout.stateFile).catch(
    (error: unknown) => {
      if (error instanceof GreenticError && error.kind === "integrity") return null;
      throw error;
    },
  );
  const observed: ObservedState = {
    files,
    dirs,
    user: ids.user,
    group: ids.group,
    bundleCopy: await exists(hostPath(executor, desired.bundlePath)),
    runtimeCopy: desired.runtimePath === undefined ? true : await exists(hostPath(executor, desired.runtimePath)),
    certificates: { server: serverFiles.every(Boolean), client: clientFiles.every(Boolean) },
    units: executor.mode === "execute" ? await observeUnits(executor, layout) : null,
    mount: executor.mode === "execute" ? await observeMount(executor, spec.spec.bundle.mountPath) : null,
    extraBundles: (await listDir(hostPath(executor, layout.bundlesDir))).filter(
      (n) => n !== `${bundleDigest}.gtbundle` && !n.includes(".tmp-"),
    ),
    extraRuntimes:
      mode === "native"
        ? (await listDir(hostPath(executor, layout.runtimeDir))).filter((n) => n !== runtimeDigest)
        : [],
    state,
  };
  return { executor, desired, observed, bundleDigest, runtimeDigest, pinned };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

export async function observeUnits(
  executor: HostExecutor,
  layout: Layout,
): Promise<{ service: UnitObservation; mount: UnitObservation } | null> {
  const probe = await executor.run("systemctl", [
    "show",
    "--property=ActiveState,UnitFileState",
    layout.serviceUnit,
    layout.mountUnit,
  ]);
  if (probe.code !== 0) return null;
  const blocks = probe.stdout.trim().split(/\n\s*\n/);
  const parse = (block: string | undefined): UnitObservation => {
    const props = Object.fromEntries(
      (block ?? "").split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    return { active: props.ActiveState ?? "unknown", enabled: props.UnitFileState || "unknown" };
  };
  return { service: parse(blocks[0]), mount: parse(blocks[1]) };
}

export async function observeMount(executor: HostExecutor, where: string): Promise<ObservedState["mount"]> {
  const r = await executor.run("findmnt", ["-n", "-o", "SOURCE,OPTIONS,FSTYPE", "--mountpoint", where]);
  if (r.code !== 0 || r.stdout.trim() === "") return null;
  const [source = "", options = "", fstype = ""] = r.stdout.trim().split("\n")[0]!.trim().split(/\s+/);
  return { source, options, fstype };
}

/** The part of the observation a saved plan is pinned to (volatile details such as PIDs left out). */
export function fingerprint(observed: ObservedState): string {
  return canonicalDigest(observed as unknown as Record<string, unknown>);
}

/** Diffs desired against observed into ordered actions. Pure. */
export function diff(
  spec: DeploymentSpec,
  desired: DesiredState,
  observed: ObservedState,
  digests: { bundle: string; runtime?: string | undefined },
): PlanAction[] {
  const actions: PlanAction[] = [];
  const layout = desired.layout;
  const svc = spec.spec.service;
  // A staging root (--root) records commands instead of running them, so users and unit states
  // cannot be observed there. After a successful staged apply, trust the state file for them:
  // otherwise a staged deployment could never converge to an empty plan.
  const stagedAndApplied = observed.units === null && observed.state?.lastResult.ok === true;
  if (observed.group === null && !stagedAndApplied)
    actions.push({ action: "create", resource: "group", target: svc.group, reason: "system group does not exist" });
  if (observed.user === null && !stagedAndApplied)
    actions.push({ action: "create", resource: "user", target: svc.user, reason: "system user does not exist" });
  const uid = observed.user?.uid;
  const gid = observed.group ?? undefined;
  for (const d of desired.dirs) {
    const o = observed.dirs[d.path];
    if (!o) {
      actions.push({
        action: "create",
        resource: "dir",
        target: d.path,
        reason: `missing (mode ${d.mode.toString(8)}, ${d.owner === "service" ? svc.user : "root"}:${d.group === "service" ? svc.group : "root"})`,
      });
      continue;
    }
    const wantUid = d.owner === "service" ? uid : 0;
    const wantGid = d.group === "service" ? gid : 0;
    if (o.mode !== d.mode)
      actions.push({
        action: "update",
        resource: "dir",
        target: d.path,
        reason: `mode ${o.mode.toString(8)} should be ${d.mode.toString(8)}`,
      });
    else if ((wantUid !== undefined && o.uid !== wantUid) || (wantGid !== undefined && o.gid !== wantGid)) {
      actions.push({
        action: "update",
        resource: "dir",
        target: d.path,
        reason: `owner ${o.uid}:${o.gid} should be ${wantUid ?? "?"}:${wantGid ?? "?"}`,
      });
    }
  }
  if (!observed.certificates.server) {
    actions.push({
      action: "create",
      resource: "certificates",
      target: spec.spec.runtime.admin.mtls.certFile,
      reason:
        "admin mTLS server certificate, key or CA missing: a new CA, server and operator client certificate will be generated",
    });
  }
  if (!observed.bundleCopy)
    actions.push({
      action: "create",
      resource: "bundle",
      target: desired.bundlePath,
      reason: `copy of bundle sha256:${digests.bundle.slice(0, 12)} not on the host`,
    });
  if (!observed.runtimeCopy && desired.runtimePath)
    actions.push({
      action: "create",
      resource: "runtime",
      target: desired.runtimePath,
      reason: `runtime executable sha256:${digests.runtime!.slice(0, 12)} not on the host`,
    });

  let mountChanged = !observed.bundleCopy;
  let serviceChanged = !observed.runtimeCopy || !observed.certificates.server;
  for (const f of desired.files) {
    const have = observed.files[f.path];
    const want = sha256(f.content);
    if (have === want) continue;
    actions.push({
      action: have == null ? "create" : "update",
      resource: "file",
      target: f.path,
      reason: have == null ? `${f.kind} missing` : `${f.kind} content differs from the spec`,
    });
    if (f.kind === "mount-unit") mountChanged = true;
    else serviceChanged = true;
  }
  const desiredPaths = new Set(desired.files.map((f) => f.path));
  for (const [path, hash] of Object.entries(observed.files)) {
    if (hash !== null && !desiredPaths.has(path)) {
      actions.push({ action: "delete", resource: "file", target: path, reason: `not used in ${desired.mode} mode` });
      serviceChanged = true;
    }
  }
  const units = observed.units;
  const mountActive = units ? units.mount.active === "active" && observed.mount?.source !== undefined : false;
  if (mountChanged || (!mountActive && !stagedAndApplied)) {
    const reason = mountChanged
      ? "mount unit or bundle changed"
      : units === null
        ? "unit state unknown (staging)"
        : `mount is ${units.mount.active}`;
    actions.push({ action: "restart", resource: "unit", target: layout.mountUnit, reason });
    serviceChanged = true;
  } else if (units && units.mount.enabled !== "enabled") {
    actions.push({
      action: "update",
      resource: "unit",
      target: layout.mountUnit,
      reason: `unit is ${units.mount.enabled}, should be enabled`,
    });
  }
  const serviceActive = units?.service.active === "active";
  const quadlet = desired.files.some((f) => f.kind === "quadlet");
  if (serviceChanged || (!serviceActive && !stagedAndApplied)) {
    const reason = serviceChanged
      ? "its unit, environment, runtime, certificates or bundle changed"
      : units === null
        ? "unit state unknown (staging)"
        : `service is ${units.service.active}`;
    actions.push({ action: "restart", resource: "unit", target: layout.serviceUnit, reason });
  } else if (!quadlet && units && units.service.enabled !== "enabled") {
    actions.push({
      action: "update",
      resource: "unit",
      target: layout.serviceUnit,
      reason: `unit is ${units.service.enabled}, should be enabled`,
    });
  }
  // Keep the bundle this plan mounts and the one rollback returns to; older copies go. When the
  // bundle changes, the one mounted now becomes the previous; otherwise the state's previous stays.
  const keep = new Set(retainedBundles(observed.state, digests.bundle).map((d) => `${d}.gtbundle`));
  for (const name of observed.extraBundles) {
    if (!keep.has(name))
      actions.push({
        action: "delete",
        resource: "bundle",
        target: `${layout.bundlesDir}/${name}`,
        reason: "neither the current nor the previous bundle",
      });
  }
  for (const name of observed.extraRuntimes) {
    if (name !== observed.state?.runtimeDigest)
      actions.push({
        action: "delete",
        resource: "runtime",
        target: `${layout.runtimeDir}/${name}`,
        reason: "neither the current nor the previous runtime",
      });
  }
  const s = observed.state;
  if (actions.length > 0 || !s || s.bundleDigest !== `sha256:${digests.bundle}` || !s.lastResult.ok) {
    actions.push({
      action: s ? "update" : "create",
      resource: "state",
      target: layout.stateFile,
      reason: s
        ? s.lastResult.ok
          ? "record the new deployment"
          : `last ${s.lastResult.action} failed`
        : "no state file",
    });
  }
  return actions;
}

/** Digests (hex) of the bundles besides `bundle` that must stay on the host for rollback. */
export function retainedBundles(state: SingleVmState | null, bundle: string): string[] {
  if (!state) return [];
  const hex = (d: string | undefined) => d?.replace(/^sha256:/, "");
  const current = hex(state.bundleDigest);
  const previous = current === bundle ? hex(state.previousBundleDigest) : current;
  return previous === undefined ? [] : [previous];
}

/** Plans the recreate strategy (see `planDeployment`, which picks the strategy). Nothing is written. */
export async function planRecreate(spec: DeploymentSpec, options: PlanOptions = {}): Promise<SingleVmPlan> {
  const o = await observe(spec, options);
  return buildPlan(spec, o, options);
}

export function buildPlan(
  spec: DeploymentSpec,
  o: Awaited<ReturnType<typeof observe>>,
  options: PlanOptions,
): SingleVmPlan {
  const actions = diff(spec, o.desired, o.observed, { bundle: o.bundleDigest, runtime: o.runtimeDigest });
  const changes = actions.length > 0;
  return {
    schema: PLAN_SCHEMA,
    deployment: spec.metadata.name,
    mode: o.desired.mode,
    spec,
    specDigest: `sha256:${canonicalDigest(spec as unknown as Record<string, unknown>)}`,
    bundleDigest: `sha256:${o.bundleDigest}`,
    runtimeDigest: o.runtimeDigest === undefined ? undefined : `sha256:${o.runtimeDigest}`,
    observedFingerprint: fingerprint(o.observed),
    ociRuntime: options.ociRuntime,
    pinnedBundle: o.pinned,
    actions,
    changes,
    exitCode: changes ? 2 : 0,
    summary: summarizePlan(spec.metadata.name, actions),
  };
}

/** One line per action plus a count, for humans. */
export function summarizePlan(name: string, actions: readonly PlanAction[]): string {
  if (actions.length === 0) return `${name}: no changes; the host matches the spec.`;
  const counts = (["create", "update", "delete", "restart"] as const)
    .map((v) => `${actions.filter((a) => a.action === v).length} to ${v}`)
    .join(", ");
  return [
    `${name}: ${counts}.`,
    ...actions.map((a) => `  ${a.action.padEnd(7)} ${a.resource.padEnd(12)} ${a.target}  (${a.reason})`),
  ].join("\n");
}

/** Saves a plan (`--out plan.json`) as pretty JSON. */
export function savePlan(plan: SingleVmPlan): string {
  return prettyJson(plan);
}

/** Reads a saved plan; refuses anything that is not one. */
export async function loadPlan(file: string): Promise<SingleVmPlan> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new GreenticError("invalid-argument", `${file}: not a readable plan file: ${(error as Error).message}`, {
      path: file,
      hint: "create one with `op single-vm plan --out FILE`",
    });
  }
  if ((data as SingleVmPlan)?.schema !== PLAN_SCHEMA) {
    throw new GreenticError("invalid-argument", `${file}: schema must be ${PLAN_SCHEMA}`, {
      path: file,
      hint: "create one with `op single-vm plan --out FILE`",
    });
  }
  const plan = parseDocument(SavedPlanSchema, data, { source: file });
  if (!plan.ok)
    throw issuesError(plan.issues, { source: file, hint: "create a new plan with `op single-vm plan --out FILE`" });
  // The embedded spec drives apply: check it as strictly as a spec file.
  const spec = validateDeploymentSpec((data as SingleVmPlan).spec, { source: `${file} (spec)` });
  if (!spec.ok)
    throw new GreenticError("validation", spec.summary, {
      path: file,
      issues: spec.issues,
      hint: "create a new plan with `op single-vm plan --out FILE`",
    });
  return { ...(data as SingleVmPlan), spec: spec.value };
}

export function isPlan(value: unknown): value is SingleVmPlan {
  return (value as SingleVmPlan)?.schema === PLAN_SCHEMA;
}
