import { readdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { canonicalDigest, deploymentMode, GreenticError, prettyJson, type DeploymentSpec } from "@greentic/deploy-spec";
import { isUnbound, normalisePathPrefix, routeKeys } from "@greentic/deploy-spec/routes";
import { adminRequest, createAdminCertificates } from "@greentic/runtime";
import { hostPath, type HostExecutor } from "./executor.js";
import { REVISION_BUNDLES } from "./load.js";
import {
  copyFileAtomic,
  ensureDir,
  exists,
  hashFile,
  readText,
  removePath,
  sha256,
  statPath,
  writeFileAtomic,
  type Ownership,
} from "./host-fs.js";
import { createServiceAccount, removeContainer, stepRunner, waitUnitReady } from "./host-steps.js";
import {
  digestOfSource,
  executorFor,
  lookupIds,
  quadletSupported,
  sourceHostPath,
  sourcePath,
  PLAN_SCHEMA,
  summarizePlan,
  type PlanAction,
  type PlanOptions,
  type SingleVmPlan,
} from "./plan.js";
import {
  backendCounters,
  liveSplit,
  percentile,
  proxyLayout,
  proxyUnit,
  proxyWorkerPid,
  pushSplit,
  renderProxyConfig,
  renderSplitMap,
  renderStickyMap,
  timedRequests,
  waitForNewProxyWorker,
  type BackendCounters,
  type ProxyRoute,
  type WeightedRevision,
} from "./proxy.js";
import {
  containerServiceUnit,
  layoutFor,
  mountUnit,
  nativeServiceUnit,
  quadletContainer,
  renderEnvFile,
  runtimeCopyPath,
  type ContainerOptions,
  type Layout,
} from "./render.js";
import { renderUnitFile, systemdEscapePath } from "./unit-file.js";

export const CANARY_SCHEMA = "greentic.single-vm-canary.v1";

/** One revision the VM knows (warmed or drained). */
export interface CanaryRevision {
  /** `sha256:<hex>` of the bundle copy behind its mount. */
  bundle_digest: string;
  /** The bundle copy on the VM (its mount's `What=`). */
  bundle_file: string;
  public_port: number;
  admin_port: number;
  /** `warm`: its unit runs and the proxy has a backend for it; `drained`: stopped, files kept until archive. */
  status: "warm" | "drained";
  warmed_at: string;
  /** The environment's deployment it belongs to (absent: the VM's only one, as `op single-vm apply` makes). */
  deployment?: string;
}

/** A deployment of the environment on this VM: its block of `split.map` and its route binding. */
export interface CanaryRoute {
  /** Its revisions' ranges in `split.map` start at `slot * 10000`; kept while it has revisions. */
  slot: number;
  hosts: string[];
  path_prefixes: string[];
}

/**
 * `<dataRoot>/canary.json`, root-only: the VM's desired state for a canary deployment. The
 * revisions that run, their ports, and the split the proxy must apply. The proxy's live map is
 * the observed state; every read compares the two.
 */
export interface CanaryRecord {
  schema: typeof CANARY_SCHEMA;
  deployment: string;
  revisions: Record<string, CanaryRevision>;
  split: { entries: WeightedRevision[]; updated_at: string } | null;
  /** The split before the last change (`op single-vm rollback` restores it). */
  previous_split?: { entries: WeightedRevision[]; updated_at: string } | null;
  /** Port of the proxy's loopback metrics endpoint (Prometheus `/metrics`, stats page `/stats`). */
  metrics_port: number;
  /**
   * The deployments the proxy routes by Host and path (by deployment id), once an environment
   * set a split with a route binding; absent: one deployment takes every request.
   */
  routes?: Record<string, CanaryRoute>;
}

/** Revision ids become unit names, paths and HAProxy backend names. */
const SAFE_REVISION = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** `spec.rollout.revisionPorts` as numbers (validated `FROM-TO`). */
function portRange(spec: DeploymentSpec): { from: number; to: number } {
  const [from, to] = spec.spec.rollout.revisionPorts.split("-").map(Number) as [number, number];
  return { from, to };
}

export function isCanary(spec: DeploymentSpec): boolean {
  return spec.spec.rollout.strategy === "canary";
}

function recordPath(spec: DeploymentSpec): string {
  return `${layoutFor(spec).dataRoot}/canary.json`;
}

export async function readCanaryRecord(executor: HostExecutor, spec: DeploymentSpec): Promise<CanaryRecord> {
  const text = await readText(hostPath(executor, recordPath(spec)));
  const empty: CanaryRecord = {
    schema: CANARY_SCHEMA,
    deployment: spec.metadata.name,
    revisions: {},
    split: null,
    metrics_port: portRange(spec).from,
  };
  if (text === null) return empty;
  try {
    const parsed = JSON.parse(text) as CanaryRecord;
    if (parsed.schema !== CANARY_SCHEMA) throw new Error(`schema is ${JSON.stringify(parsed.schema)}`);
    return { ...empty, ...parsed };
  } catch (error) {
    throw new GreenticError("integrity", `${recordPath(spec)} is damaged: ${(error as Error).message}`, {
      hint: "restore it from a backup; it lists the revisions and the split of this VM",
    });
  }
}

async function writeCanaryRecord(executor: HostExecutor, spec: DeploymentSpec, record: CanaryRecord): Promise<void> {
  await ensureDir(executor, layoutFor(spec).dataRoot, 0o755);
  await writeFileAtomic(executor, recordPath(spec), prettyJson(record as unknown as Record<string, unknown>), 0o600, {
    uid: 0,
    gid: 0,
  });
}

/** Where one revision's own files and units live. */
export interface RevisionLayout extends Layout {
  revision: string;
  mountPath: string;
  certDir: string;
  clientDir: string;
  revisionStateDir: string;
}

export function revisionLayout(spec: DeploymentSpec, revision: string): RevisionLayout {
  const base = layoutFor(spec);
  const mountPath = `${spec.spec.bundle.mountPath}.rev/${revision}`;
  const mountUnitName = `${systemdEscapePath(mountPath)}.mount`;
  const unit = `greentic-${base.name}-${revision}`;
  return {
    ...base,
    revision,
    serviceUnit: `${unit}.service`,
    mountUnit: mountUnitName,
    serviceFile: `/etc/systemd/system/${unit}.service`,
    mountFile: `/etc/systemd/system/${mountUnitName}`,
    quadletFile: `/etc/containers/systemd/${unit}.container`,
    containerName: unit,
    envFile: `${base.configDir}/revisions/${revision}/runtime.env`,
    bundlesDir: `${base.dataRoot}/revisions`,
    mountPath,
    certDir: `${base.configDir}/revisions/${revision}/admin`,
    clientDir: `${base.deployerDir}/revisions/${revision}`,
    revisionStateDir: `${spec.spec.storage.stateDir}/revisions/${revision}`,
  };
}

/**
 * The spec one revision's runtime sees: its own mount, loopback ports, admin certificate and
 * state directory; everything else (user, storage, health, hardening) from the deployment's spec.
 */
export function revisionSpec(spec: DeploymentSpec, revision: string, r: CanaryRevision): DeploymentSpec {
  const l = revisionLayout(spec, revision);
  return {
    ...spec,
    spec: {
      ...spec.spec,
      bundle: { ...spec.spec.bundle, source: r.bundle_file, mountPath: l.mountPath },
      runtime: {
        ...spec.spec.runtime,
        publicBind: `127.0.0.1:${r.public_port}`,
        admin: {
          bind: `127.0.0.1:${r.admin_port}`,
          mtls: {
            caFile: `${l.certDir}/ca.crt`,
            certFile: `${l.certDir}/server.crt`,
            keyFile: `${l.certDir}/server.key`,
          },
        },
      },
      storage: { ...spec.spec.storage, stateDir: l.revisionStateDir },
    },
  };
}

interface CanaryFile {
  path: string;
  content: string;
  mode: number;
  group: "root" | "service";
  /** Which unit restarts when it changes: a revision id, or `proxy` (reload), or `map` (runtime API). */
  owner: string;
  kind: "mount-unit" | "service-unit" | "quadlet" | "env-file" | "proxy-unit" | "proxy-config" | "proxy-map";
}

interface CanaryDesired {
  files: CanaryFile[];
  dirs: Array<{ path: string; mode: number; owner: "root" | "service"; group: "root" | "service" }>;
  runtimePath?: string | undefined;
  warm: string[];
}

export interface CanaryContext {
  runtimeDigest?: string | undefined;
  container?: ContainerOptions | undefined;
}

/** The recorded split, each entry with its deployment's base in `split.map`, ordered by it. */
function splitOf(record: CanaryRecord): WeightedRevision[] {
  const entries = (record.split?.entries ?? []).map(({ revision_id, weight_bps }): WeightedRevision => {
    const base = (routeOf(record, revision_id)?.slot ?? 0) * 10_000;
    return { revision_id, weight_bps, ...(base > 0 ? { base } : {}) };
  });
  return entries.sort((a, b) => (a.base ?? 0) - (b.base ?? 0));
}

/** The route of a revision's deployment, when the VM routes by deployment. */
function routeOf(record: CanaryRecord, revisionId: string): CanaryRoute | undefined {
  const deployment = record.revisions[revisionId]?.deployment;
  return deployment === undefined ? undefined : record.routes?.[deployment];
}

/** The deployments with traffic, as the proxy routes them (undefined: no routes recorded). */
function proxyRoutes(record: CanaryRecord, warm: readonly string[]): ProxyRoute[] | undefined {
  if (record.routes === undefined) return undefined;
  const weighted = new Set((record.split?.entries ?? []).filter((e) => e.weight_bps > 0).map((e) => e.revision_id));
  return Object.entries(record.routes)
    .filter(([id]) => [...weighted].some((r) => record.revisions[r]?.deployment === id))
    .sort(([, a], [, b]) => a.slot - b.slot)
    .map(([deployment_id, r]) => ({
      deployment_id,
      base: r.slot * 10_000,
      hosts: r.hosts,
      path_prefixes: r.path_prefixes,
      revisions: warm.filter((id) => record.revisions[id]?.deployment === deployment_id),
    }));
}

function renderCanary(spec: DeploymentSpec, record: CanaryRecord, ctx: CanaryContext): CanaryDesired {
  const base = layoutFor(spec);
  const p = proxyLayout(spec);
  const s = spec.spec;
  const native = deploymentMode(spec) === "native";
  const warm = Object.keys(record.revisions)
    .filter((id) => record.revisions[id]!.status === "warm")
    .sort();
  const runtimePath =
    native && ctx.runtimeDigest !== undefined ? runtimeCopyPath(base, ctx.runtimeDigest, s.runtime.binary!) : undefined;
  const dirs: CanaryDesired["dirs"] = [
    { path: base.configDir, mode: 0o755, owner: "root", group: "root" },
    { path: base.deployerDir, mode: 0o700, owner: "root", group: "root" },
    { path: p.dir, mode: 0o755, owner: "root", group: "root" },
    { path: base.dataRoot, mode: 0o755, owner: "root", group: "root" },
    { path: `${base.dataRoot}/revisions`, mode: 0o755, owner: "root", group: "root" },
    ...(native ? [{ path: base.runtimeDir, mode: 0o755, owner: "root" as const, group: "root" as const }] : []),
    ...Object.values(s.storage).map((path) => ({
      path,
      mode: 0o750,
      owner: "service" as const,
      group: "service" as const,
    })),
  ];
  const files: CanaryFile[] = [];
  for (const id of warm) {
    const r = record.revisions[id]!;
    const l = revisionLayout(spec, id);
    const rs = revisionSpec(spec, id, r);
    dirs.push(
      { path: dirname(l.certDir), mode: 0o750, owner: "root", group: "service" },
      { path: l.revisionStateDir, mode: 0o750, owner: "service", group: "service" },
    );
    const digest = r.bundle_digest.replace(/^sha256:/, "");
    files.push(
      {
        path: l.envFile,
        content: renderEnvFile(rs, { behindProxy: true }),
        mode: 0o640,
        group: "service",
        owner: id,
        kind: "env-file",
      },
      {
        path: l.mountFile,
        content: renderUnitFile(mountUnit(rs, l, r.bundle_file, digest)),
        mode: 0o644,
        group: "root",
        owner: id,
        kind: "mount-unit",
      },
    );
    if (native) {
      if (runtimePath === undefined) throw new Error("native mode needs the runtime digest");
      files.push({
        path: l.serviceFile,
        content: renderUnitFile(nativeServiceUnit(rs, l, runtimePath)),
        mode: 0o644,
        group: "root",
        owner: id,
        kind: "service-unit",
      });
    } else {
      const c = ctx.container ?? {
        quadlet: false,
        enginePath: `/usr/bin/${s.runtime.engine ?? "podman"}`,
        user: `${s.service.user}:${s.service.group}`,
      };
      files.push(
        c.quadlet
          ? {
              path: l.quadletFile,
              content: renderUnitFile(quadletContainer(rs, l, c)),
              mode: 0o644,
              group: "root",
              owner: id,
              kind: "quadlet",
            }
          : {
              path: l.serviceFile,
              content: renderUnitFile(containerServiceUnit(rs, l, c)),
              mode: 0o644,
              group: "root",
              owner: id,
              kind: "service-unit",
            },
      );
    }
  }
  const backends = warm.map((id) => ({ revision_id: id, port: record.revisions[id]!.public_port }));
  files.push(
    {
      path: p.unitFile,
      content: renderUnitFile(proxyUnit(spec)),
      mode: 0o644,
      group: "root",
      owner: "proxy",
      kind: "proxy-unit",
    },
    {
      path: p.config,
      content: renderProxyConfig(spec, backends, {
        metricsPort: record.metrics_port,
        routes: proxyRoutes(record, warm),
      }),
      mode: 0o644,
      group: "root",
      owner: "proxy",
      kind: "proxy-config",
    },
    {
      path: p.splitMap,
      content: renderSplitMap(splitOf(record)),
      mode: 0o644,
      group: "root",
      owner: "map",
      kind: "proxy-map",
    },
  );
  if (s.rollout.sticky)
    files.push({
      path: p.stickyMap,
      content: renderStickyMap(splitOf(record)),
      mode: 0o644,
      group: "root",
      owner: "map",
      kind: "proxy-map",
    });
  return { files, dirs, runtimePath, warm };
}

interface CanaryObservation {
  executor: HostExecutor;
  record: CanaryRecord;
  desired: CanaryDesired;
  files: Record<string, string | null>;
  /** Generated files of this deployment on the host that are no longer desired. */
  stray: string[];
  dirs: Record<string, boolean>;
  user: { uid: number; gid: number } | null;
  group: number | null;
  units: Record<string, { active: string; enabled: string }> | null;
  runtimeCopy: boolean;
  runtimeDigest?: string | undefined;
  certificates: Record<string, boolean>;
  /** Live split from the proxy (null when it does not answer or in staging). */
  live: WeightedRevision[] | null;
  /** Revisions with units on the host that the record no longer runs. */
  strayUnits: string[];
}

async function hostContainerOptions(
  executor: HostExecutor,
  spec: DeploymentSpec,
  ids: { user: { uid: number; gid: number } | null; group: number | null },
  ociRuntime: string | undefined,
): Promise<ContainerOptions | undefined> {
  if (deploymentMode(spec) !== "container") return undefined;
  const engine = spec.spec.runtime.engine ?? "podman";
  let enginePath = `/usr/bin/${engine}`;
  let quadlet = false;
  if (executor.mode === "execute") {
    const which = await executor.run("sh", ["-c", `command -v ${engine}`]);
    if (which.code === 0 && which.stdout.trim().startsWith("/")) enginePath = which.stdout.trim();
    if (engine === "podman") quadlet = await quadletSupported(executor);
  }
  return {
    quadlet,
    enginePath,
    ociRuntime,
    user:
      ids.user !== null && ids.group !== null
        ? `${ids.user.uid}:${ids.group}`
        : `${spec.spec.service.user}:${spec.spec.service.group}`,
  };
}

async function observeCanary(
  spec: DeploymentSpec,
  options: PlanOptions,
  record?: CanaryRecord,
): Promise<CanaryObservation> {
  const executor = executorFor(options);
  const rec = record ?? (await readCanaryRecord(executor, spec));
  const native = deploymentMode(spec) === "native";
  let runtimeDigest: string | undefined;
  if (native)
    runtimeDigest = await digestOfSource(executor, sourcePath(spec.spec.runtime.binary!), "spec.runtime.binary");
  const ids = await lookupIds(executor, spec.spec.service.user, spec.spec.service.group);
  const container = await hostContainerOptions(executor, spec, ids, options.ociRuntime);
  const desired = renderCanary(spec, rec, { runtimeDigest, container });
  const files: Record<string, string | null> = {};
  for (const f of desired.files) {
    const text = await readText(hostPath(executor, f.path));
    files[f.path] = text === null ? null : sha256(text);
  }
  // Generated files of revisions this deployment no longer runs.
  const name = spec.metadata.name;
  const desiredPaths = new Set(desired.files.map((f) => f.path));
  const stray: string[] = [];
  const strayUnits = new Set<string>();
  const mountPrefix = `${systemdEscapePath(`${spec.spec.bundle.mountPath}.rev`)}-`;
  for (const dir of ["/etc/systemd/system", "/etc/containers/systemd"]) {
    for (const n of await listDir(hostPath(executor, dir))) {
      const m =
        /^greentic-(.+)-([A-Za-z0-9][A-Za-z0-9_-]*)\.(service|container)$/.exec(n) ??
        (n.startsWith(mountPrefix) && n.endsWith(".mount")
          ? [n, name, n.slice(mountPrefix.length, -6).replace(/\\x2d/g, "-")]
          : null);
      if (!m || m[1] !== name || m[2] === "proxy") continue;
      const path = `${dir}/${n}`;
      if (!desiredPaths.has(path)) {
        stray.push(path);
        strayUnits.add(m[2]!);
      }
    }
  }
  const base = layoutFor(spec);
  for (const n of await listDir(hostPath(executor, `${base.configDir}/revisions`))) {
    const envFile = `${base.configDir}/revisions/${n}/runtime.env`;
    if (!desiredPaths.has(envFile) && (await exists(hostPath(executor, envFile)))) stray.push(envFile);
  }
  const dirs: Record<string, boolean> = {};
  for (const d of desired.dirs) dirs[d.path] = (await statPath(hostPath(executor, d.path)))?.isDir === true;
  const certificates: Record<string, boolean> = {};
  for (const id of desired.warm) {
    const l = revisionLayout(spec, id);
    const all = await Promise.all(
      [`${l.certDir}/ca.crt`, `${l.certDir}/server.crt`, `${l.certDir}/server.key`, `${l.clientDir}/client.crt`].map(
        (f) => exists(hostPath(executor, f)),
      ),
    );
    certificates[id] = all.every(Boolean);
  }
  let units: CanaryObservation["units"] = null;
  const unitNames = [
    proxyLayout(spec).unit,
    ...desired.warm.flatMap((id) => [revisionLayout(spec, id).serviceUnit, revisionLayout(spec, id).mountUnit]),
    ...[...strayUnits].flatMap((id) => [revisionLayout(spec, id).serviceUnit, revisionLayout(spec, id).mountUnit]),
  ];
  if (executor.mode === "execute") units = await unitStates(executor, unitNames);
  let live: WeightedRevision[] | null = null;
  if (executor.mode === "execute" && units?.[proxyLayout(spec).unit]?.active === "active")
    live = await liveSplit(executor, spec).catch(() => null);
  return {
    executor,
    record: rec,
    desired,
    files,
    stray: stray.sort(),
    dirs,
    user: ids.user,
    group: ids.group,
    units,
    runtimeCopy: desired.runtimePath === undefined ? true : await exists(hostPath(executor, desired.runtimePath)),
    runtimeDigest,
    certificates,
    live,
    strayUnits: [...strayUnits].sort(),
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function unitStates(
  executor: HostExecutor,
  units: readonly string[],
): Promise<Record<string, { active: string; enabled: string }>> {
  const r = await executor.run("systemctl", ["show", "--property=Id,ActiveState,UnitFileState", ...units]);
  const out: Record<string, { active: string; enabled: string }> = {};
  const blocks = r.stdout.trim().split(/\n\s*\n/);
  units.forEach((u, i) => {
    const props = Object.fromEntries(
      (blocks[i] ?? "").split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    out[u] = { active: props.ActiveState ?? "unknown", enabled: props.UnitFileState || "unknown" };
  });
  return out;
}

function sameSplit(a: readonly WeightedRevision[], b: readonly WeightedRevision[]): boolean {
  const norm = (x: readonly WeightedRevision[]) =>
    x
      .filter((e) => e.weight_bps > 0)
      .map((e) => `${e.base ?? 0}:${e.revision_id}=${e.weight_bps}`)
      .join(",");
  return norm(a) === norm(b);
}

/** Desired vs observed as ordered actions. Pure. */
function diffCanary(spec: DeploymentSpec, o: CanaryObservation): PlanAction[] {
  const actions: PlanAction[] = [];
  const svc = spec.spec.service;
  const staged = o.units === null;
  const p = proxyLayout(spec);
  if (o.group === null && !staged)
    actions.push({ action: "create", resource: "group", target: svc.group, reason: "system group does not exist" });
  if (o.user === null && !staged)
    actions.push({ action: "create", resource: "user", target: svc.user, reason: "system user does not exist" });
  for (const d of o.desired.dirs)
    if (!o.dirs[d.path]) actions.push({ action: "create", resource: "dir", target: d.path, reason: "missing" });
  if (!o.runtimeCopy && o.desired.runtimePath)
    actions.push({
      action: "create",
      resource: "runtime",
      target: o.desired.runtimePath,
      reason: `runtime executable sha256:${o.runtimeDigest!.slice(0, 12)} not on the host`,
    });
  const changedOwners = new Set<string>();
  for (const id of o.desired.warm) {
    if (!o.certificates[id]) {
      actions.push({
        action: "create",
        resource: "certificates",
        target: `${revisionLayout(spec, id).certDir}/server.crt`,
        reason: `admin mTLS certificates of revision ${id} missing`,
      });
      changedOwners.add(id);
    }
  }
  for (const f of o.desired.files) {
    const have = o.files[f.path];
    if (have === sha256(f.content)) continue;
    actions.push({
      action: have == null ? "create" : "update",
      resource: "file",
      target: f.path,
      reason: have == null ? `${f.kind} missing` : `${f.kind} content differs`,
    });
    changedOwners.add(f.owner);
  }
  if (!o.runtimeCopy) for (const id of o.desired.warm) changedOwners.add(id);
  // Stray revisions leave the proxy first (the reload below), then stop.
  for (const id of o.strayUnits)
    actions.push({
      action: "delete",
      resource: "unit",
      target: revisionLayout(spec, id).serviceUnit,
      reason: `revision ${id} is no longer warm: stop it`,
    });
  for (const path of o.stray)
    actions.push({ action: "delete", resource: "file", target: path, reason: "not used by any warm revision" });
  for (const id of o.desired.warm) {
    const l = revisionLayout(spec, id);
    const unit = o.units?.[l.serviceUnit];
    if (changedOwners.has(id) || (!staged && unit?.active !== "active"))
      actions.push({
        action: "restart",
        resource: "unit",
        target: l.serviceUnit,
        reason: changedOwners.has(id)
          ? "its unit, environment, runtime or certificates changed"
          : `service is ${unit?.active ?? "unknown"}`,
      });
  }
  const proxyActive = o.units?.[p.unit]?.active === "active";
  if (!staged && !proxyActive)
    actions.push({
      action: "restart",
      resource: "unit",
      target: p.unit,
      reason: `proxy is ${o.units?.[p.unit]?.active ?? "unknown"}`,
    });
  else if (changedOwners.has("proxy") || o.strayUnits.length > 0)
    actions.push({
      action: "update",
      resource: "unit",
      target: p.unit,
      reason: "backends changed: seamless reload (listeners kept, old worker finishes its requests)",
    });
  if (!staged && proxyActive && o.live !== null && !sameSplit(o.live, splitOf(o.record)))
    actions.push({
      action: "update",
      resource: "state",
      target: p.splitMap,
      reason: `live split ${describeSplit(o.live)} differs from the recorded ${describeSplit(splitOf(o.record))}: push it through the runtime API`,
    });
  return actions;
}

export function describeSplit(entries: readonly WeightedRevision[]): string {
  const nz = entries.filter((e) => e.weight_bps > 0);
  return nz.length === 0 ? "(none)" : nz.map((e) => `${e.revision_id}=${e.weight_bps}bps`).join(" ");
}

function fingerprintOf(o: CanaryObservation): string {
  const { executor: _e, ...rest } = o;
  return canonicalDigest(rest as unknown as Record<string, unknown>);
}

export async function planCanary(spec: DeploymentSpec, options: PlanOptions = {}): Promise<SingleVmPlan> {
  const executor = executorFor(options);
  const record = await ensureSpecRevision(executor, spec, options, false);
  const o = await observeCanary(spec, { ...options, executor }, record);
  // A saved plan names the spec's bundle (the revision it makes); the deployer's plans have none.
  const specDigest = !hasSpecBundle(spec, options)
    ? null
    : await hashFile(sourceHostPath(executor, sourcePath(spec.spec.bundle.source)));
  return { ...planOf(spec, o, options), bundleDigest: `sha256:${specDigest ?? "0".repeat(64)}` };
}

function planOf(spec: DeploymentSpec, o: CanaryObservation, options: PlanOptions): SingleVmPlan {
  const actions = diffCanary(spec, o);
  // A spec bundle not yet recorded shows up as its own action (ensureSpecRevision in dry mode).
  const pending = (o.record as CanaryRecord & { pendingRevision?: string }).pendingRevision;
  if (pending !== undefined)
    actions.unshift({
      action: "create",
      resource: "bundle",
      target: revisionLayout(spec, pending).serviceUnit,
      reason: `spec.bundle.source becomes revision ${pending}`,
    });
  return {
    schema: PLAN_SCHEMA,
    deployment: spec.metadata.name,
    mode: deploymentMode(spec),
    spec,
    specDigest: `sha256:${canonicalDigest(spec as unknown as Record<string, unknown>)}`,
    bundleDigest: "",
    runtimeDigest: o.runtimeDigest === undefined ? undefined : `sha256:${o.runtimeDigest}`,
    observedFingerprint: fingerprintOf(o),
    ociRuntime: options.ociRuntime,
    pinnedBundle: false,
    actions,
    changes: actions.length > 0,
    exitCode: actions.length > 0 ? 2 : 0,
    summary: summarizePlan(spec.metadata.name, actions),
  };
}

/** Whether the spec's own bundle is a revision (not for a spec of revisions an environment deploys). */
function hasSpecBundle(spec: DeploymentSpec, options: PlanOptions): boolean {
  return options.specBundle !== false && spec.spec.bundle.source !== REVISION_BUNDLES;
}

/**
 * `op single-vm plan/apply` with a spec whose `bundle.source` exists: that bundle is a revision
 * (id `sha256-<12 hex>`), copied under the revisions dir and warmed; the first one takes 100 %.
 * In dry mode (plan) nothing is written.
 */
async function ensureSpecRevision(
  executor: HostExecutor,
  spec: DeploymentSpec,
  options: PlanOptions,
  write: boolean,
): Promise<CanaryRecord & { pendingRevision?: string }> {
  const record = await readCanaryRecord(executor, spec);
  if (!hasSpecBundle(spec, options)) return record;
  const source = sourceHostPath(executor, sourcePath(spec.spec.bundle.source));
  const digest = await digestOfSource(executor, sourcePath(spec.spec.bundle.source), "spec.bundle.source");
  const id = `sha256-${digest.slice(0, 12)}`;
  const existing = record.revisions[id];
  if (existing !== undefined && existing.status === "warm") return record;
  if (!write) return { ...record, pendingRevision: id };
  const file = `${layoutFor(spec).dataRoot}/revisions/${id}.gtbundle`;
  if ((await hashFile(hostPath(executor, file))) !== digest) {
    const copied = await copyFileAtomic(executor, source, file, 0o644);
    if (copied !== digest)
      throw new GreenticError("integrity", `bundle copy ${file} has sha256:${copied}, expected sha256:${digest}`);
  }
  return addRevision(executor, spec, record, id, file, `sha256:${digest}`, record.split === null);
}

async function addRevision(
  executor: HostExecutor,
  spec: DeploymentSpec,
  record: CanaryRecord,
  id: string,
  file: string,
  digest: string,
  takeAll: boolean,
  deployment?: string,
): Promise<CanaryRecord> {
  if (!SAFE_REVISION.test(id))
    throw new GreenticError("invalid-argument", `revision id ${JSON.stringify(id)} cannot name a unit`, {
      hint: "revision ids are ULIDs",
    });
  const existing = record.revisions[id];
  const ports =
    existing !== undefined
      ? { public_port: existing.public_port, admin_port: existing.admin_port }
      : await allocatePorts(executor, spec, record);
  record.revisions[id] = {
    bundle_digest: digest,
    bundle_file: file,
    ...ports,
    status: "warm",
    warmed_at: new Date().toISOString(),
    ...(deployment !== undefined
      ? { deployment }
      : existing?.deployment !== undefined
        ? { deployment: existing.deployment }
        : {}),
  };
  if (takeAll)
    record.split = { entries: [{ revision_id: id, weight_bps: 10_000 }], updated_at: new Date().toISOString() };
  await writeCanaryRecord(executor, spec, record);
  return record;
}

/**
 * The local TCP ports sockets hold on the host (`/proc/net/tcp` and `tcp6`), in every state but
 * TIME_WAIT: a listener, or any bound or connected socket, makes a revision's bind to that port
 * fail (`EADDRINUSE`), while a TIME_WAIT left by a closed connection does not (the runtime binds
 * with `SO_REUSEADDR`).
 */
export async function portsInUse(executor: HostExecutor): Promise<Set<number>> {
  const used = new Set<number>();
  const r = await executor.run("cat", ["/proc/net/tcp", "/proc/net/tcp6"]);
  if (r.code !== 0 && r.stdout === "")
    throw new GreenticError("io", `cannot read the host's sockets (/proc/net/tcp): ${r.stderr.trim()}`, {
      hint: "the canary needs /proc mounted on the VM to pick free revision ports",
    });
  for (const line of r.stdout.split("\n")) {
    // `sl  local_address rem_address st ...`: local port in hex after the colon, state in hex.
    const m = /^\s*\d+:\s+[0-9A-F]+:([0-9A-F]{4})\s+[0-9A-F]+:[0-9A-F]{4}\s+([0-9A-F]{2})\s/.exec(line);
    if (m && m[2] !== "06") used.add(Number.parseInt(m[1]!, 16));
  }
  return used;
}

/**
 * Two free loopback ports from `rollout.revisionPorts` (the first is the proxy's metrics port):
 * neither recorded for another revision nor held by any socket on the host, so a port some other
 * service took is skipped rather than handed to a revision that would then fail to start.
 */
export async function allocatePorts(
  executor: HostExecutor,
  spec: DeploymentSpec,
  record: CanaryRecord,
): Promise<{ public_port: number; admin_port: number }> {
  const { from, to } = portRange(spec);
  const used = new Set<number>([record.metrics_port]);
  for (const r of Object.values(record.revisions)) used.add(r.public_port).add(r.admin_port);
  const taken = executor.mode === "execute" ? await portsInUse(executor) : new Set<number>();
  const free: number[] = [];
  for (let port = from + 1; port <= to && free.length < 2; port++)
    if (!used.has(port) && !taken.has(port)) free.push(port);
  if (free.length < 2) {
    const held = [...taken].filter((p) => p > from && p <= to && !used.has(p)).sort((a, b) => a - b);
    throw new GreenticError("conflict", `no two free ports left in spec.rollout.revisionPorts ${from}-${to}`, {
      hint:
        held.length > 0
          ? `ports ${held.join(", ")} of the range are held by other processes on the host (\`ss -tanp\` names them); drain and archive revisions you no longer need, or widen spec.rollout.revisionPorts`
          : "drain and archive revisions you no longer need, or widen spec.rollout.revisionPorts",
      details: { code: "no-free-ports", held_by_others: held },
    });
  }
  return { public_port: free[0]!, admin_port: free[1]! };
}

export interface CanaryApplyResult {
  deployment: string;
  changed: boolean;
  actions: PlanAction[];
  commands: string[];
  staging: boolean;
  /** Revisions (re)started and found ready over mTLS. */
  ready: string[];
  summary: string;
}

export interface CanaryApplyOptions extends PlanOptions {
  readyTimeoutMs?: number;
  onProgress?: (line: string) => void;
  /** Refuse when the host no longer matches this fingerprint (a saved plan). */
  expectFingerprint?: string;
}

/** Converges the host to the record: units, certificates, proxy, live split. Restarts only what changed. */
export async function applyCanary(spec: DeploymentSpec, options: CanaryApplyOptions = {}): Promise<CanaryApplyResult> {
  const executor = executorFor(options);
  if (options.expectFingerprint !== undefined) {
    const before = await observeCanary(
      spec,
      { ...options, executor },
      await ensureSpecRevision(executor, spec, options, false),
    );
    if (fingerprintOf(before) !== options.expectFingerprint)
      throw new GreenticError("precondition-failed", "plan is stale: the host changed since the plan was made", {
        hint: "run `op single-vm plan` again and apply the new plan",
      });
  }
  const record = await ensureSpecRevision(executor, spec, options, true);
  return converge(executor, spec, record, options);
}

async function converge(
  executor: HostExecutor,
  spec: DeploymentSpec,
  record: CanaryRecord,
  options: CanaryApplyOptions,
): Promise<CanaryApplyResult> {
  const o = await observeCanary(spec, { ...options, executor }, record);
  const actions = diffCanary(spec, o);
  const commands: string[] = [];
  const progress = options.onProgress ?? (() => {});
  const staging = executor.mode === "record";
  const result = (ready: string[]): CanaryApplyResult => ({
    deployment: spec.metadata.name,
    changed: actions.length > 0,
    actions,
    commands,
    staging,
    ready,
    summary:
      actions.length === 0
        ? `${spec.metadata.name}: no changes; nothing restarted.`
        : summarizePlan(spec.metadata.name, actions).replace(/^([^:]+): /, "$1: applied "),
  });
  if (actions.length === 0) return result([]);
  const run = stepRunner(executor, commands);
  const has = (action: PlanAction["action"], resource: PlanAction["resource"], target?: string) =>
    actions.some(
      (a) => a.action === action && a.resource === resource && (target === undefined || a.target === target),
    );
  const svc = spec.spec.service;
  await createServiceAccount(run, svc, { group: has("create", "group"), user: has("create", "user") });
  const ids = await lookupIds(executor, svc.user, svc.group);
  const desired =
    (has("create", "user") || has("create", "group")) && deploymentMode(spec) === "container"
      ? (await observeCanary(spec, { ...options, executor }, record)).desired
      : o.desired;
  const owner = (who: "root" | "service", group: "root" | "service"): Ownership => ({
    uid: who === "service" ? (ids.user?.uid ?? 0) : 0,
    gid: group === "service" ? (ids.group ?? 0) : 0,
  });
  for (const d of desired.dirs) if (!o.dirs[d.path]) await ensureDir(executor, d.path, d.mode, owner(d.owner, d.group));
  if (desired.runtimePath && has("create", "runtime")) {
    progress(`runtime sha256:${o.runtimeDigest}`);
    const digest = await copyFileAtomic(
      executor,
      sourceHostPath(executor, sourcePath(spec.spec.runtime.binary!)),
      desired.runtimePath,
      0o755,
    );
    if (digest !== o.runtimeDigest)
      throw new GreenticError("integrity", `runtime copy has sha256:${digest}, expected sha256:${o.runtimeDigest}`);
  }
  for (const id of desired.warm) {
    if (o.certificates[id]) continue;
    progress(`certificates for revision ${id}`);
    const l = revisionLayout(spec, id);
    await ensureDir(executor, l.clientDir, 0o700, { uid: 0, gid: 0 });
    const certs = await createAdminCertificates(hostPath(executor, l.clientDir));
    await ensureDir(executor, l.certDir, 0o750, owner("root", "service"));
    const place = async (from: string, to: string, mode: number) =>
      writeFileAtomic(executor, to, await readFile(from), mode, owner("root", "service"));
    await place(certs.files.caCert, `${l.certDir}/ca.crt`, 0o644);
    await place(certs.files.serverCert, `${l.certDir}/server.crt`, 0o644);
    await place(certs.files.serverKey, `${l.certDir}/server.key`, 0o640);
  }
  let reloadSystemd = false;
  for (const f of desired.files) {
    if (!has("create", "file", f.path) && !has("update", "file", f.path)) continue;
    progress(`write ${f.path}`);
    await writeFileAtomic(executor, f.path, f.content, f.mode, owner("root", f.group));
    if (f.kind !== "env-file" && f.kind !== "proxy-config" && f.kind !== "proxy-map") reloadSystemd = true;
  }
  if (reloadSystemd) await run("systemctl", ["daemon-reload"], "reloading systemd");

  const p = proxyLayout(spec);
  const quadlet = desired.files.some((f) => f.kind === "quadlet");
  // New or changed revisions start (and pass /ready) before the proxy may send them anything.
  const ready: string[] = [];
  for (const id of desired.warm) {
    const l = revisionLayout(spec, id);
    if (!has("restart", "unit", l.serviceUnit)) continue;
    const mountChanged = actions.some((a) => a.target === l.mountFile && a.resource === "file");
    const unitActive = o.units?.[l.serviceUnit]?.active;
    if (mountChanged && unitActive === "active")
      await run("systemctl", ["stop", l.serviceUnit], `stopping ${l.serviceUnit}`);
    await run("systemctl", ["enable", l.mountUnit], `enabling ${l.mountUnit}`);
    await run("systemctl", [mountChanged ? "restart" : "start", l.mountUnit], `mounting revision ${id}`);
    if (!quadlet) await run("systemctl", ["enable", l.serviceUnit], `enabling ${l.serviceUnit}`);
    await executor.run("systemctl", ["reset-failed", l.serviceUnit]);
    await run("systemctl", ["restart", l.serviceUnit], `starting ${l.serviceUnit}`);
    if (!staging) {
      progress(`waiting for revision ${id} ${spec.spec.health.readinessPath} over mTLS`);
      await waitRevisionReady(executor, spec, id, record.revisions[id]!, options.readyTimeoutMs);
      ready.push(id);
    }
  }
  // The proxy: started, or reloaded seamlessly when its backends changed; then the live split.
  if (has("restart", "unit", p.unit)) {
    await run("systemctl", ["enable", p.unit], `enabling ${p.unit}`);
    await executor.run("systemctl", ["reset-failed", p.unit]);
    await run("systemctl", ["restart", p.unit], `starting the proxy ${p.unit}`);
  } else if (has("update", "unit", p.unit)) {
    const oldWorker = await proxyWorkerPid(executor, spec).catch(() => null);
    await run("systemctl", ["reload", p.unit], `reloading the proxy ${p.unit}`);
    // Done only once the new worker serves: the next request must see the new configuration.
    if (oldWorker !== null)
      await waitForNewProxyWorker(executor, spec, oldWorker, () => executor.run("systemctl", ["reload", p.unit]));
  }
  if (!staging) {
    const desiredSplit = splitOf(record);
    const live = await liveSplit(executor, spec).catch(() => null);
    if (live === null || !sameSplit(live, desiredSplit)) {
      progress(`pushing split ${describeSplit(desiredSplit)}`);
      await pushSplit(executor, spec, desiredSplit);
    }
  }
  // Revisions no longer warm stop only now that the proxy has no backend for them.
  for (const id of o.strayUnits) {
    const l = revisionLayout(spec, id);
    await executor.run("systemctl", ["disable", "--now", l.serviceUnit]);
    await executor.run("systemctl", ["disable", "--now", l.mountUnit]);
    commands.push(`systemctl disable --now ${l.serviceUnit} ${l.mountUnit}`);
  }
  let removed = false;
  for (const path of o.stray) removed = (await removePath(executor, path)) || removed;
  if (removed) await run("systemctl", ["daemon-reload"], "reloading systemd");
  for (const id of o.strayUnits)
    await executor.run("systemctl", ["reset-failed", revisionLayout(spec, id).serviceUnit]);
  return result(ready);
}

async function waitRevisionReady(
  executor: HostExecutor,
  spec: DeploymentSpec,
  id: string,
  r: CanaryRevision,
  timeoutMs?: number,
): Promise<void> {
  const l = revisionLayout(spec, id);
  await waitUnitReady(executor, {
    unit: l.serviceUnit,
    address: { host: "127.0.0.1", port: r.admin_port },
    readinessPath: spec.spec.health.readinessPath,
    certDir: l.clientDir,
    timeoutMs: timeoutMs ?? spec.spec.health.startupTimeoutSeconds * 1000,
    intervalMs: 200,
    retry: "warm",
  });
}

/**
 * Warms a revision beside the others: records it (ports allocated), starts its mount and unit,
 * waits for `/ready` over mTLS and reloads the proxy with a backend for it at 0 %. The first
 * revision of an empty VM takes 100 %.
 */
export async function warmCanaryRevision(
  spec: DeploymentSpec,
  revision: { id: string; file: string; digest: string; deployment?: string },
  options: CanaryApplyOptions = {},
): Promise<CanaryApplyResult> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec);
  const takeAll =
    record.split === null || splitOf(record).every((e) => record.revisions[e.revision_id]?.status !== "warm");
  await addRevision(executor, spec, record, revision.id, revision.file, revision.digest, takeAll, revision.deployment);
  try {
    return await converge(executor, spec, record, { ...options, specBundle: false });
  } catch (error) {
    // A revision that never became ready takes no traffic and does not stay running.
    const fresh = await readCanaryRecord(executor, spec);
    if (fresh.revisions[revision.id] !== undefined) {
      fresh.revisions[revision.id]!.status = "drained";
      if (takeAll) fresh.split = null;
      await writeCanaryRecord(executor, spec, fresh);
      await converge(executor, spec, fresh, { ...options, specBundle: false }).catch(() => {});
    }
    throw error;
  }
}

/** The recorded (desired) and live (observed) split, and whether they differ. */
export interface CanaryTraffic {
  recorded: WeightedRevision[];
  live: WeightedRevision[] | null;
  drift: boolean;
}

export async function canaryTraffic(spec: DeploymentSpec, options: PlanOptions = {}): Promise<CanaryTraffic> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec);
  const live = executor.mode === "execute" ? await liveSplit(executor, spec).catch(() => null) : null;
  const recorded = splitOf(record);
  return { recorded, live, drift: live === null ? recorded.length > 0 : !sameSplit(live, recorded) };
}

/**
 * Sets the split: every revision with a weight must be warm on this VM and its unit active
 * (checked before anything changes); the record is written, then the map pushed through the
 * runtime API and read back. Entries must sum to 10 000 bps.
 */
export async function setCanarySplit(
  spec: DeploymentSpec,
  entries: readonly WeightedRevision[],
  options: PlanOptions & {
    /**
     * The environment's deployment the split is for, with its route binding: only its entries
     * change, and the proxy routes requests to it by Host and path prefix.
     */
    deployment?: { id: string; hosts: readonly string[]; path_prefixes: readonly string[] } | undefined;
  } = {},
): Promise<CanaryTraffic> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec);
  const configBefore = proxyConfigOf(spec, record);
  // Each deployment's weights add up to 10 000 (a whole split, as rollback restores it, may hold several).
  const sums = new Map<string, number>();
  for (const e of entries) {
    const key = options.deployment?.id ?? record.revisions[e.revision_id]?.deployment ?? "";
    sums.set(key, (sums.get(key) ?? 0) + e.weight_bps);
  }
  const sum = entries.length === 0 ? 0 : ([...sums.values()].find((n) => n !== 10_000) ?? 10_000);
  if (sum !== 10_000 || entries.some((e) => !Number.isInteger(e.weight_bps) || e.weight_bps < 0))
    throw new GreenticError("validation", `weights must be whole basis points adding up to 10000, got ${sum}`, {
      path: "entries",
      hint: "give percent that add up to 100 (e.g. A=99 B=1) or basis points that add up to 10000",
    });
  const weighted = entries.filter((e) => e.weight_bps > 0);
  const units =
    executor.mode === "execute"
      ? await unitStates(
          executor,
          weighted.map((e) => revisionLayout(spec, e.revision_id).serviceUnit),
        )
      : null;
  for (const e of weighted) {
    const r = record.revisions[e.revision_id];
    if (r === undefined)
      throw new GreenticError("not-found", `revision ${e.revision_id} is not on this VM`, {
        path: "entries",
        hint: "warm it first (op revisions warm, or op deploy)",
        details: { code: "unknown-revision", revision_id: e.revision_id },
      });
    if (r.status !== "warm")
      throw new GreenticError("conflict", `revision ${e.revision_id} is drained on this VM and cannot take traffic`, {
        path: "entries",
        hint: "warm it again first (op revisions warm)",
        details: { code: "revision-not-warm", revision_id: e.revision_id },
      });
    const unit = units?.[revisionLayout(spec, e.revision_id).serviceUnit];
    if (units !== null && unit?.active !== "active")
      throw new GreenticError(
        "conflict",
        `revision ${e.revision_id} is not running on this VM (unit ${unit?.active ?? "unknown"})`,
        {
          path: "entries",
          hint: "`op single-vm apply` restarts it; check its journal",
          details: { code: "revision-not-running", revision_id: e.revision_id },
        },
      );
  }
  let others: WeightedRevision[] = [];
  if (options.deployment !== undefined) {
    routeDeployment(record, options.deployment, weighted);
    others = (record.split?.entries ?? []).filter(
      (e) => e.weight_bps > 0 && record.revisions[e.revision_id]?.deployment !== options.deployment!.id,
    );
  }
  const next = [...others, ...weighted].map(({ revision_id, weight_bps }) => ({ revision_id, weight_bps }));
  if (record.split !== null && !sameSplit(record.split.entries, next)) record.previous_split = record.split;
  record.split = { entries: next, updated_at: new Date().toISOString() };
  await writeCanaryRecord(executor, spec, record);
  const p = proxyLayout(spec);
  // The map files on disk are what a restart or reboot loads: written before the live push.
  await writeFileAtomic(executor, p.splitMap, renderSplitMap(splitOf(record)), 0o644, { uid: 0, gid: 0 });
  if (spec.spec.rollout.sticky)
    await writeFileAtomic(executor, p.stickyMap, renderStickyMap(splitOf(record)), 0o644, { uid: 0, gid: 0 });
  if (executor.mode === "execute") await pushSplit(executor, spec, splitOf(record));
  // A deployment that starts or stops taking traffic, or a changed route binding, changes the
  // routing rules: the proxy reloads seamlessly (its new worker loads the map just written).
  if (proxyConfigOf(spec, record) !== configBefore)
    await converge(executor, spec, record, { ...options, executor, specBundle: false });
  return canaryTraffic(spec, { ...options, executor });
}

/** The proxy's configuration for the record (what `renderCanary` writes). */
function proxyConfigOf(spec: DeploymentSpec, record: CanaryRecord): string {
  const warm = Object.keys(record.revisions)
    .filter((id) => record.revisions[id]!.status === "warm")
    .sort();
  const backends = warm.map((id) => ({ revision_id: id, port: record.revisions[id]!.public_port }));
  return renderProxyConfig(spec, backends, { metricsPort: record.metrics_port, routes: proxyRoutes(record, warm) });
}

/**
 * Records the route binding of the deployment a split is for: refused (`route-collision`) when
 * another deployment on this VM claims one of its host and path prefix pairs, as the store
 * refuses it when the binding is written. A deployment keeps its block of `split.map` (its
 * slot) while it has revisions here; a new one takes the lowest free block.
 */
function routeDeployment(
  record: CanaryRecord,
  deployment: { id: string; hosts: readonly string[]; path_prefixes: readonly string[] },
  weighted: readonly WeightedRevision[],
): void {
  const binding = {
    hosts: deployment.hosts.map((h) => h.toLowerCase()),
    path_prefixes: deployment.path_prefixes.map(normalisePathPrefix),
  };
  const present = (id: string) => Object.values(record.revisions).some((r) => r.deployment === id);
  const routes = Object.fromEntries(
    Object.entries(record.routes ?? {}).filter(([id]) => id === deployment.id || present(id)),
  );
  const mine = new Set(routeKeys(binding));
  for (const [other, route] of Object.entries(routes)) {
    if (other === deployment.id || isUnbound(binding) || isUnbound(route)) continue;
    const clash = routeKeys(route).find((key) => mine.has(key));
    if (clash === undefined) continue;
    const [host, prefix] = clash.split(" ") as [string, string];
    throw new GreenticError(
      "conflict",
      `the route binding of deployment ${deployment.id} collides with deployment ${other} on this VM: both claim ${host === "*" ? "any host" : `host ${host}`} and path prefix ${prefix}`,
      {
        hint: `give one of them another --host or --path-prefix (op bundles update)`,
        details: { code: "route-collision", deployment_id: deployment.id, other_deployment_id: other },
      },
    );
  }
  // Revisions recorded before the VM routed by deployment belong to the only one there was.
  const attributed = Object.values(record.revisions).some(
    (r) => r.deployment !== undefined && r.deployment !== deployment.id,
  );
  for (const [id, r] of Object.entries(record.revisions))
    if (r.deployment === undefined && (!attributed || weighted.some((e) => e.revision_id === id)))
      r.deployment = deployment.id;
  const taken = new Set(Object.entries(routes).flatMap(([id, r]) => (id === deployment.id ? [] : [r.slot])));
  let slot = routes[deployment.id]?.slot ?? 0;
  if (routes[deployment.id] === undefined) while (taken.has(slot)) slot++;
  routes[deployment.id] = { slot, hosts: binding.hosts, path_prefixes: binding.path_prefixes };
  record.routes = routes;
}

/**
 * Drains a revision: refused (conflict) while the recorded or live split gives it traffic. It has
 * already left the split; its in-flight requests finish within `rollout.drainSeconds`; then the
 * proxy drops its backend (seamless reload) and its unit stops.
 */
export async function drainCanaryRevision(
  spec: DeploymentSpec,
  id: string,
  options: PlanOptions = {},
): Promise<{ waited_ms: number; in_flight_left: number }> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec);
  const r = record.revisions[id];
  if (r === undefined || r.status === "drained") return { waited_ms: 0, in_flight_left: 0 };
  const traffic = await canaryTraffic(spec, { ...options, executor });
  const carrying = [...traffic.recorded, ...(traffic.live ?? [])].find((e) => e.revision_id === id && e.weight_bps > 0);
  if (carrying !== undefined)
    throw new GreenticError(
      "conflict",
      `revision ${id} still carries ${carrying.weight_bps / 100} % of the traffic; it cannot be drained`,
      {
        hint: "move its traffic to another revision first (op traffic set), then drain it",
        details: { code: "revision-has-traffic", revision_id: id, weight_bps: carrying.weight_bps },
      },
    );
  const started = Date.now();
  let left = 0;
  if (executor.mode === "execute") {
    const deadline = started + spec.spec.rollout.drainSeconds * 1000;
    for (;;) {
      const counters = await backendCounters(executor, spec).catch(() => [] as BackendCounters[]);
      left = counters.find((c) => c.revision_id === id)?.current_sessions ?? 0;
      if (left === 0 || Date.now() >= deadline) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  r.status = "drained";
  await writeCanaryRecord(executor, spec, record);
  await converge(executor, spec, record, { ...options, specBundle: false });
  return { waited_ms: Date.now() - started, in_flight_left: left };
}

/** Removes a drained revision's mount, bundle copy, certificates and state dir; refused while warm. */
export async function archiveCanaryRevision(
  spec: DeploymentSpec,
  id: string,
  options: PlanOptions = {},
): Promise<boolean> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec);
  const r = record.revisions[id];
  if (r === undefined) return false;
  if (r.status === "warm")
    throw new GreenticError("conflict", `revision ${id} is warm on this VM; drain it before archiving`, {
      hint: `op revisions drain, then archive`,
      details: { code: "revision-live", revision_id: id },
    });
  const l = revisionLayout(spec, id);
  for (const path of [r.bundle_file, l.certDir, dirname(l.certDir), l.clientDir, l.revisionStateDir, l.mountPath])
    await removePath(executor, path);
  delete record.revisions[id];
  await writeCanaryRecord(executor, spec, record);
  return true;
}

/** One revision as the VM sees it. */
export interface CanaryRevisionStatus {
  revision_id: string;
  status: "warm" | "drained";
  unit: string;
  active: string;
  mount: string;
  public_port: number;
  admin_port: number;
  bundle_digest: string;
  recorded_weight_bps: number;
  live_weight_bps: number | null;
  readiness: number | string | null;
  main_pid: number | null;
  requests: number | null;
  errors_5xx: number | null;
  p99_ms: number | null;
}

export interface CanaryStatus {
  deployment: string;
  status: "not-installed" | "applied" | "degraded";
  proxy: { unit: string; active: string; url: string; metrics_url: string };
  revisions: CanaryRevisionStatus[];
  drift: boolean;
  summary: string;
}

/** Per-revision metrics read from the proxy: counters since its start, p99 over its timing ring. */
export interface RevisionMetrics {
  revision_id: string;
  requests: number;
  errors_5xx: number;
  /** Over the timed requests since `sinceMs`: count, 5xx share and p99. */
  window: { requests: number; errors_5xx: number; error_rate: number; p99_ms: number | null };
}

export async function canaryMetrics(
  spec: DeploymentSpec,
  options: PlanOptions & { sinceMs?: number } = {},
): Promise<RevisionMetrics[]> {
  const executor = executorFor(options);
  const [counters, timed] = await Promise.all([backendCounters(executor, spec), timedRequests(executor, spec)]);
  const since = options.sinceMs ?? 0;
  return counters.map((c) => {
    const mine = timed.filter((t) => t.revision_id === c.revision_id && t.at_ms >= since);
    const errors = mine.filter((t) => t.status >= 500 || t.status < 0).length;
    return {
      revision_id: c.revision_id,
      requests: c.requests,
      errors_5xx: c.errors_5xx,
      window: {
        requests: mine.length,
        errors_5xx: errors,
        error_rate: mine.length === 0 ? 0 : errors / mine.length,
        p99_ms: percentile(
          mine.map((t) => t.total_ms),
          99,
        ),
      },
    };
  });
}

export async function canaryStatus(spec: DeploymentSpec, options: PlanOptions = {}): Promise<CanaryStatus> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec);
  const p = proxyLayout(spec);
  const ids = Object.keys(record.revisions).sort();
  const units =
    executor.mode === "execute"
      ? await unitStates(executor, [
          p.unit,
          ...ids.flatMap((id) => [revisionLayout(spec, id).serviceUnit, revisionLayout(spec, id).mountUnit]),
        ])
      : null;
  const proxyActive = units?.[p.unit]?.active ?? "unknown";
  const traffic = await canaryTraffic(spec, { ...options, executor });
  const metrics = proxyActive === "active" ? await canaryMetrics(spec, { ...options, executor }).catch(() => []) : [];
  const revisions: CanaryRevisionStatus[] = [];
  for (const id of ids) {
    const r = record.revisions[id]!;
    const l = revisionLayout(spec, id);
    const active = units?.[l.serviceUnit]?.active ?? "unknown";
    let readiness: number | string | null = null;
    if (active === "active") {
      readiness = await adminRequest({
        address: { host: "127.0.0.1", port: r.admin_port },
        path: spec.spec.health.readinessPath,
        certDir: hostPath(executor, l.clientDir),
        timeoutMs: 3_000,
      })
        .then((x) => x.status)
        .catch((e: Error) => e.message);
    }
    const pid =
      executor.mode === "execute" && active === "active"
        ? Number(
            (await executor.run("systemctl", ["show", "-p", "MainPID", "--value", l.serviceUnit])).stdout.trim(),
          ) || null
        : null;
    const m = metrics.find((x) => x.revision_id === id);
    revisions.push({
      revision_id: id,
      status: r.status,
      unit: l.serviceUnit,
      active,
      mount: units?.[l.mountUnit]?.active ?? "unknown",
      public_port: r.public_port,
      admin_port: r.admin_port,
      bundle_digest: r.bundle_digest,
      recorded_weight_bps: traffic.recorded.find((e) => e.revision_id === id)?.weight_bps ?? 0,
      live_weight_bps: traffic.live === null ? null : (traffic.live.find((e) => e.revision_id === id)?.weight_bps ?? 0),
      readiness,
      main_pid: pid,
      requests: m?.requests ?? null,
      errors_5xx: m?.errors_5xx ?? null,
      p99_ms: m?.window.p99_ms ?? null,
    });
  }
  const nothing = ids.length === 0 && proxyActive !== "active";
  const healthy =
    proxyActive === "active" &&
    !traffic.drift &&
    revisions.every((r) => r.status === "drained" || (r.active === "active" && r.readiness === 200));
  const status: CanaryStatus["status"] = nothing ? "not-installed" : healthy ? "applied" : "degraded";
  const host = spec.spec.runtime.publicBind;
  return {
    deployment: spec.metadata.name,
    status,
    proxy: {
      unit: p.unit,
      active: proxyActive,
      url: `http://${host.startsWith("0.0.0.0:") ? host.replace("0.0.0.0", "127.0.0.1") : host}/`,
      metrics_url: `http://127.0.0.1:${record.metrics_port}/metrics`,
    },
    revisions,
    drift: traffic.drift,
    summary: `${spec.metadata.name}: ${status}; proxy ${proxyActive}; split ${describeSplit(traffic.recorded)}${traffic.drift ? ` (live: ${traffic.live === null ? "unreachable" : describeSplit(traffic.live)})` : ""}`,
  };
}

/** Stops and removes the proxy and every revision unit; keeps data unless `purge`. */
export async function destroyCanary(
  spec: DeploymentSpec,
  options: PlanOptions & { purge?: boolean } = {},
): Promise<{ removed: string[]; commands: string[]; changed: boolean; kept: string[] }> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec).catch(() => null);
  const p = proxyLayout(spec);
  const commands: string[] = [];
  const removed: string[] = [];
  const ids = new Set(Object.keys(record?.revisions ?? {}));
  // Units on the host that the record may have lost.
  for (const n of await listDir(hostPath(executor, "/etc/systemd/system"))) {
    const m = new RegExp(
      `^greentic-${spec.metadata.name.replace(/[.]/g, "\\.")}-([A-Za-z0-9][A-Za-z0-9_-]*)\\.service$`,
    ).exec(n);
    if (m && m[1] !== "proxy") ids.add(m[1]!);
  }
  const units = [
    p.unit,
    ...[...ids].flatMap((id) => [revisionLayout(spec, id).serviceUnit, revisionLayout(spec, id).mountUnit]),
  ];
  for (const u of units) {
    commands.push(`systemctl disable --now ${u}`);
    await executor.run("systemctl", ["disable", "--now", u]);
  }
  for (const id of ids) await removeContainer(executor, spec, revisionLayout(spec, id).containerName, commands);
  const base = layoutFor(spec);
  const paths = [
    p.unitFile,
    p.dir,
    ...[...ids].flatMap((id) => {
      const l = revisionLayout(spec, id);
      return [l.serviceFile, l.quadletFile, l.mountFile, l.clientDir, l.mountPath];
    }),
    `${base.configDir}/revisions`,
    `${spec.spec.bundle.mountPath}.rev`,
    `${base.dataRoot}/revisions`,
    base.runtimeDir,
    recordPath(spec),
  ];
  for (const path of paths) if (await removePath(executor, path)) removed.push(path);
  await executor.run("systemctl", ["daemon-reload"]);
  commands.push("systemctl daemon-reload");
  await executor.run("systemctl", ["reset-failed", ...units]);
  const kept: string[] = [];
  const data = [...Object.values(spec.spec.storage), base.configDir];
  if (options.purge) {
    for (const path of [...data, base.dataRoot]) if (await removePath(executor, path)) removed.push(path);
  } else for (const path of data) if (await exists(hostPath(executor, path))) kept.push(path);
  return { removed, commands, changed: removed.length > 0, kept };
}

/** `op single-vm rollback` in canary mode: the split before the last change comes back. */
export async function rollbackCanary(spec: DeploymentSpec, options: PlanOptions = {}): Promise<CanaryTraffic> {
  const executor = executorFor(options);
  const record = await readCanaryRecord(executor, spec);
  const previous = record.previous_split;
  if (!previous)
    throw new GreenticError("not-found", `${spec.metadata.name}: no previous split to roll back to`, {
      hint: "rollback needs a split change first (op traffic set)",
    });
  return setCanarySplit(spec, previous.entries, { ...options, executor });
}
