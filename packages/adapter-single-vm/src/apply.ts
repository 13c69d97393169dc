import { readdir, readFile } from "node:fs/promises";
import {
  canonicalDigest,
  GreenticError,
  isGreenticError,
  parseAdminBind,
  prettyJson,
  type DeploymentSpec,
} from "@greentic/deploy-spec";
import { createAdminCertificates } from "@greentic/runtime";
import { hostPath, type HostExecutor } from "./executor.js";
import { copyFileAtomic, ensureDir, exists, removePath, sha256, writeFileAtomic, type Ownership } from "./host-fs.js";
import {
  buildPlan,
  executorFor,
  fingerprint,
  isPlan,
  lookupIds,
  observe,
  observeUnits,
  sourceHostPath,
  sourcePath,
  STATE_SCHEMA,
  type ObservedState,
  type PlanAction,
  type PlanOptions,
  type SingleVmPlan,
  type SingleVmState,
} from "./plan.js";
import { readStateFile } from "./documents.js";
import { createServiceAccount, removeContainer, stepRunner, waitUnitReady } from "./host-steps.js";
import { layoutFor, type DesiredState, type Layout } from "./render.js";
import { applyCanary, describeSplit, destroyCanary, isCanary, rollbackCanary } from "./canary.js";

export interface ApplyOptions extends PlanOptions {
  /** Override the spec's startupTimeoutSeconds (ms), e.g. in tests. */
  readyTimeoutMs?: number;
  /** Progress lines for humans (one per step). */
  onProgress?: (line: string) => void;
  /** Clock for the state file. */
  now?: () => Date;
}

export interface ApplyResult {
  deployment: string;
  /** True when something was changed on the host. */
  changed: boolean;
  actions: PlanAction[];
  /** Commands run (or recorded, in staging), in order. */
  commands: string[];
  bundleDigest: string;
  /** The service's main PID after apply (absent in staging). */
  mainPid?: number | undefined;
  ready?: { status: number } | undefined;
  staging: boolean;
  summary: string;
}

/**
 * Makes the host match the spec: user, dirs, certificates, bundle copy, files (atomically),
 * units; restarts only what changed, then waits for `/ready` over mTLS. Given a saved plan,
 * refuses it when the host changed since ("plan is stale: ...").
 */
export async function applyDeployment(
  input: DeploymentSpec | SingleVmPlan,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const savedPlan = isPlan(input) ? input : undefined;
  const spec = savedPlan ? savedPlan.spec : (input as DeploymentSpec);
  if (isCanary(spec)) {
    const r = await applyCanary(spec, {
      ...options,
      ...(savedPlan ? { expectFingerprint: savedPlan.observedFingerprint } : {}),
      ...(savedPlan?.ociRuntime !== undefined && options.ociRuntime === undefined
        ? { ociRuntime: savedPlan.ociRuntime }
        : {}),
    });
    return {
      deployment: r.deployment,
      changed: r.changed,
      actions: r.actions,
      commands: r.commands,
      bundleDigest: "",
      staging: r.staging,
      summary: r.summary,
      ...(r.ready.length > 0 ? { ready: { status: 200 } } : {}),
    };
  }
  const planOptions: PlanOptions = {
    ...options,
    ...(savedPlan?.ociRuntime !== undefined && options.ociRuntime === undefined
      ? { ociRuntime: savedPlan.ociRuntime }
      : {}),
    ...(savedPlan?.pinnedBundle ? { bundleDigest: savedPlan.bundleDigest } : {}),
  };
  const o = await observe(spec, planOptions);
  const plan = buildPlan(spec, o, planOptions);
  if (savedPlan) assertFresh(savedPlan, plan, o.observed);
  const executor = o.executor;
  const commands: string[] = [];
  const progress = options.onProgress ?? (() => {});
  const result = (extra: Partial<ApplyResult>): ApplyResult => ({
    deployment: spec.metadata.name,
    changed: plan.actions.length > 0,
    actions: plan.actions,
    commands,
    bundleDigest: plan.bundleDigest,
    staging: executor.mode === "record",
    summary:
      plan.actions.length === 0
        ? `${spec.metadata.name}: no changes; nothing restarted.`
        : plan.summary.replace(/^([^:]+): /, "$1: applied "),
    ...extra,
  });
  if (plan.actions.length === 0) {
    const units = await observeUnits(executor, o.desired.layout);
    return result({ mainPid: await mainPid(executor, o.desired.layout, units !== null) });
  }

  const run = stepRunner(executor, commands);
  const has = (resource: PlanAction["resource"], target?: string) =>
    plan.actions.some((a) => a.resource === resource && (target === undefined || a.target === target));
  const layout = o.desired.layout;
  const svc = spec.spec.service;
  const started = Date.now();
  try {
    await createServiceAccount(run, svc, { group: has("group"), user: has("user") });
    const ids = await lookupIds(executor, svc.user, svc.group);
    // Container mode renders the numeric uid:gid, unknown until the user existed: render again.
    const desired =
      (has("user") || has("group")) && o.desired.mode === "container"
        ? (await observe(spec, planOptions)).desired
        : o.desired;
    if (executor.mode === "execute" && (!ids.user || ids.group === null)) {
      throw new GreenticError("io", `user ${svc.user} or group ${svc.group} still missing after creating them`);
    }
    const owner = (who: "root" | "service", group: "root" | "service"): Ownership => ({
      uid: who === "service" ? (ids.user?.uid ?? 0) : 0,
      gid: group === "service" ? (ids.group ?? 0) : 0,
    });
    for (const d of o.desired.dirs) {
      if (has("dir", d.path)) {
        progress(`dir ${d.path}`);
        await ensureDir(executor, d.path, d.mode, owner(d.owner, d.group));
      }
    }
    if (has("certificates")) {
      progress("certificates");
      await installCertificates(executor, spec, layout, owner("root", "service"));
    }
    if (has("bundle", o.desired.bundlePath)) {
      progress(`bundle ${plan.bundleDigest}`);
      const digest = await copyFileAtomic(
        executor,
        sourceHostPath(executor, sourcePath(spec.spec.bundle.source)),
        o.desired.bundlePath,
        0o644,
      );
      if (`sha256:${digest}` !== plan.bundleDigest) {
        await removePath(executor, o.desired.bundlePath);
        throw new GreenticError(
          "integrity",
          `bundle copy ${o.desired.bundlePath} has sha256:${digest}, expected ${plan.bundleDigest}: the source changed while it was copied`,
          {
            hint: "run plan and apply again once the bundle file is stable",
          },
        );
      }
    }
    if (o.desired.runtimePath && has("runtime", o.desired.runtimePath)) {
      progress(`runtime ${plan.runtimeDigest}`);
      const digest = await copyFileAtomic(
        executor,
        sourceHostPath(executor, sourcePath(spec.spec.runtime.binary!)),
        o.desired.runtimePath,
        0o755,
      );
      if (`sha256:${digest}` !== plan.runtimeDigest) {
        await removePath(executor, o.desired.runtimePath);
        throw new GreenticError("integrity", `runtime copy has sha256:${digest}, expected ${plan.runtimeDigest}`);
      }
    }
    let reload = false;
    for (const f of desired.files) {
      if (has("file", f.path)) {
        progress(`write ${f.path}`);
        await writeFileAtomic(executor, f.path, f.content, f.mode, owner("root", f.group));
        if (f.kind !== "env-file") reload = true;
      }
    }
    for (const a of plan.actions.filter((x) => x.action === "delete" && x.resource === "file")) {
      const unit = a.target.split("/").at(-1)!;
      // A service file of the other mode still running must be stopped before it disappears.
      if (a.target.endsWith(".service") && o.observed.units?.service.active === "active")
        await run("systemctl", ["stop", unit], `stopping ${unit}`);
      if (a.target.endsWith(".service")) await executor.run("systemctl", ["disable", unit]);
      progress(`remove ${a.target}`);
      await removePath(executor, a.target);
      reload = true;
    }
    if (reload) await run("systemctl", ["daemon-reload"], "reloading systemd");

    const restartMount = plan.actions.some((a) => a.action === "restart" && a.target === layout.mountUnit);
    const restartService = plan.actions.some((a) => a.action === "restart" && a.target === layout.serviceUnit);
    const quadlet = o.desired.files.some((f) => f.kind === "quadlet");
    // Recreate: the old runtime stops before its bundle is swapped under it.
    const serviceState = o.observed.units?.service.active;
    if (restartMount && serviceState !== undefined && serviceState !== "inactive")
      await run("systemctl", ["stop", layout.serviceUnit], `stopping ${layout.serviceUnit}`);
    if (restartMount || has("unit", layout.mountUnit))
      await run("systemctl", ["enable", layout.mountUnit], `enabling ${layout.mountUnit}`);
    if (restartMount)
      await run("systemctl", ["restart", layout.mountUnit], `mounting the bundle (${layout.mountUnit})`);
    if (!quadlet && (restartService || has("unit", layout.serviceUnit)))
      await run("systemctl", ["enable", layout.serviceUnit], `enabling ${layout.serviceUnit}`);
    if (restartService) {
      await run("systemctl", ["reset-failed", layout.serviceUnit], "resetting the unit").catch(() => {});
      await run("systemctl", ["restart", layout.serviceUnit], `starting ${layout.serviceUnit}`);
    }

    for (const a of plan.actions.filter(
      (x) => x.action === "delete" && (x.resource === "bundle" || x.resource === "runtime"),
    )) {
      await removePath(executor, a.target);
    }

    let ready: ApplyResult["ready"];
    if (executor.mode === "execute" && restartService) {
      progress(`waiting for ${spec.spec.health.readinessPath} over mTLS`);
      const remaining =
        (options.readyTimeoutMs ?? spec.spec.health.startupTimeoutSeconds * 1000) - (Date.now() - started);
      const response = await waitUnitReady(executor, {
        unit: layout.serviceUnit,
        address: parseAdminBind(spec.spec.runtime.admin.bind),
        readinessPath: spec.spec.health.readinessPath,
        certDir: layout.deployerDir,
        timeoutMs: Math.max(remaining, 5_000),
        intervalMs: 250,
        within: `within ${spec.spec.health.startupTimeoutSeconds} s`,
        retry: "apply",
      });
      ready = { status: response.status };
    }
    await writeState(executor, spec, layout, desired, plan, o.observed, {
      action: savedPlan?.pinnedBundle || options.bundleDigest ? "rollback" : "apply",
      ok: true,
      at: (options.now?.() ?? new Date()).toISOString(),
    });
    return result({ ready, mainPid: await mainPid(executor, layout, executor.mode === "execute") });
  } catch (error) {
    const message = isGreenticError(error) ? error.message : String(error);
    await writeState(executor, spec, layout, o.desired, plan, o.observed, {
      action: "apply",
      ok: false,
      at: (options.now?.() ?? new Date()).toISOString(),
      message,
    }).catch(() => {});
    throw error;
  }
}

function assertFresh(saved: SingleVmPlan, now: SingleVmPlan, observed: ObservedState): void {
  const reasons: string[] = [];
  if (saved.specDigest !== now.specDigest) reasons.push("the spec in the plan no longer matches");
  if (saved.bundleDigest !== now.bundleDigest)
    reasons.push(`the bundle is now ${now.bundleDigest}, the plan was made for ${saved.bundleDigest}`);
  if (saved.runtimeDigest !== now.runtimeDigest) reasons.push(`the runtime executable is now ${now.runtimeDigest}`);
  if (saved.observedFingerprint !== fingerprint(observed)) {
    const changed = now.actions.filter(
      (a) => !saved.actions.some((b) => b.action === a.action && b.target === a.target && b.resource === a.resource),
    );
    const gone = saved.actions.filter(
      (a) => !now.actions.some((b) => b.action === a.action && b.target === a.target && b.resource === a.resource),
    );
    const detail = [
      ...changed.map((a) => `now needs ${a.action} ${a.target}`),
      ...gone.map((a) => `no longer needs ${a.action} ${a.target}`),
    ];
    reasons.push(
      `the host changed since the plan was made${detail.length ? ` (${detail.slice(0, 3).join("; ")})` : ""}`,
    );
  }
  if (reasons.length > 0) {
    throw new GreenticError("precondition-failed", `plan is stale: ${reasons.join("; ")}`, {
      hint: "run `op single-vm plan` again and apply the new plan",
    });
  }
}

async function installCertificates(
  executor: HostExecutor,
  spec: DeploymentSpec,
  layout: Layout,
  serviceGroup: Ownership,
): Promise<void> {
  const dir = hostPath(executor, layout.deployerDir);
  await ensureDir(executor, layout.deployerDir, 0o700, { uid: 0, gid: 0 });
  const certs = await createAdminCertificates(dir);
  const mtls = spec.spec.runtime.admin.mtls;
  // The runtime gets the CA certificate and its server pair; the CA key and the operator's client
  // pair stay in the deployer's root-only directory.
  const place = async (from: string, to: string, mode: number) =>
    writeFileAtomic(executor, to, await readFile(from), mode, serviceGroup);
  await place(certs.files.caCert, mtls.caFile, 0o644);
  await place(certs.files.serverCert, mtls.certFile, 0o644);
  await place(certs.files.serverKey, mtls.keyFile, 0o640);
}

async function writeState(
  executor: HostExecutor,
  spec: DeploymentSpec,
  layout: Layout,
  desired: DesiredState,
  plan: SingleVmPlan,
  observed: ObservedState,
  lastResult: SingleVmState["lastResult"],
): Promise<void> {
  const prev = observed.state;
  const bundleChanged = prev !== null && prev.bundleDigest !== plan.bundleDigest;
  const state: SingleVmState = {
    schema: STATE_SCHEMA,
    deployment: spec.metadata.name,
    mode: desired.mode,
    specDigest: `sha256:${canonicalDigest(spec as unknown as Record<string, unknown>)}`,
    bundleDigest: lastResult.ok ? plan.bundleDigest : (prev?.bundleDigest ?? plan.bundleDigest),
    previousBundleDigest: lastResult.ok
      ? bundleChanged
        ? prev!.bundleDigest
        : prev?.previousBundleDigest
      : prev?.previousBundleDigest,
    runtimeDigest: plan.runtimeDigest,
    unitHashes: Object.fromEntries(desired.files.map((f) => [f.path, sha256(f.content)])),
    lastResult,
  };
  // Normally created with its owner by the dir actions; only a failure before them leaves it missing.
  if (!(await exists(hostPath(executor, spec.spec.storage.stateDir))))
    await ensureDir(executor, spec.spec.storage.stateDir, 0o750);
  await writeFileAtomic(executor, layout.stateFile, prettyJson(state as unknown as Record<string, unknown>), 0o644, {
    uid: 0,
    gid: 0,
  });
}

async function mainPid(executor: HostExecutor, layout: Layout, ask: boolean): Promise<number | undefined> {
  if (!ask || executor.mode !== "execute") return undefined;
  const r = await executor.run("systemctl", ["show", "--property=MainPID", "--value", layout.serviceUnit]);
  const pid = Number(r.stdout.trim());
  return r.code === 0 && pid > 0 ? pid : undefined;
}

export interface DestroyOptions extends PlanOptions {
  /** Also remove the data dirs, certificates and configuration. */
  purge?: boolean;
}

export interface DestroyResult {
  deployment: string;
  removed: string[];
  commands: string[];
  kept: string[];
  changed: boolean;
  summary: string;
}

/** Stops, disables and removes the units, unmounts, removes generated files. Idempotent. */
export async function destroyDeployment(spec: DeploymentSpec, options: DestroyOptions = {}): Promise<DestroyResult> {
  if (isCanary(spec)) {
    const r = await destroyCanary(spec, options);
    return {
      deployment: spec.metadata.name,
      ...r,
      summary: r.changed
        ? `${spec.metadata.name}: destroyed the proxy and every revision (${r.removed.length} paths removed${r.kept.length ? `; kept ${r.kept.join(", ")}` : ""}).`
        : `${spec.metadata.name}: nothing to destroy.`,
    };
  }
  const executor = executorFor(options);
  const layout = layoutFor(spec);
  const commands: string[] = [];
  const removed: string[] = [];
  const units = executor.mode === "execute" ? await observeUnits(executor, layout) : null;
  const systemctl = async (...args: string[]) => {
    commands.push(`systemctl ${args.join(" ")}`);
    return executor.run("systemctl", args);
  };
  const loaded = (u: { active: string; enabled: string } | undefined) =>
    u !== undefined && (u.active !== "inactive" || !["", "unknown"].includes(u.enabled));
  if (units === null || loaded(units.service)) {
    await systemctl("stop", layout.serviceUnit);
    await systemctl("disable", layout.serviceUnit);
  }
  await removeContainer(executor, spec, layout.containerName, commands);
  if (units === null || loaded(units.mount)) {
    await systemctl("stop", layout.mountUnit);
    await systemctl("disable", layout.mountUnit);
  }
  const generated = [
    layout.serviceFile,
    layout.quadletFile,
    layout.mountFile,
    layout.envFile,
    layout.stateFile,
    layout.bundlesDir,
    layout.runtimeDir,
  ];
  for (const path of generated) if (await removePath(executor, path)) removed.push(path);
  const unitFilesRemoved = removed.some((p) => p.startsWith("/etc/systemd/") || p.startsWith("/etc/containers/"));
  if (unitFilesRemoved) await systemctl("daemon-reload");
  if (units !== null && (loaded(units.service) || loaded(units.mount)))
    await systemctl("reset-failed", layout.serviceUnit, layout.mountUnit);
  const s = spec.spec;
  const data = [...Object.values(s.storage)];
  const config = [
    layout.configDir,
    ...new Set([s.runtime.admin.mtls.caFile, s.runtime.admin.mtls.certFile, s.runtime.admin.mtls.keyFile]),
  ];
  const kept: string[] = [];
  if (options.purge) {
    for (const path of [...data, ...config, layout.dataRoot]) if (await removePath(executor, path)) removed.push(path);
  } else {
    for (const path of [...data, ...config]) if (await exists(hostPath(executor, path))) kept.push(path);
  }
  // The empty mount point and data root go once nothing is mounted there.
  for (const dir of [s.bundle.mountPath]) {
    const entries = await readdir(hostPath(executor, dir)).catch(() => null);
    if (entries !== null && entries.length === 0 && (await removePath(executor, dir))) removed.push(dir);
  }
  const changed = removed.length > 0 || commands.some((c) => /^systemctl (stop|disable)/.test(c) && units !== null);
  return {
    deployment: spec.metadata.name,
    removed,
    commands,
    kept,
    changed,
    summary: changed
      ? `${spec.metadata.name}: destroyed (${removed.length} paths removed${kept.length ? `; kept ${kept.join(", ")}` : ""}).`
      : `${spec.metadata.name}: nothing to destroy.`,
  };
}

/** Returns to the bundle deployed before the current one (kept on the host by apply). */
export async function rollbackDeployment(spec: DeploymentSpec, options: ApplyOptions = {}): Promise<ApplyResult> {
  if (isCanary(spec)) {
    const t = await rollbackCanary(spec, options);
    return {
      deployment: spec.metadata.name,
      changed: true,
      actions: [],
      commands: [],
      bundleDigest: "",
      staging: executorFor(options).mode === "record",
      summary: `${spec.metadata.name}: split back to ${describeSplit(t.recorded)}${t.live ? ` (live: ${describeSplit(t.live)})` : ""}.`,
    };
  }
  const executor = executorFor(options);
  const layout = layoutFor(spec);
  const state = await readStateFile(hostPath(executor, layout.stateFile), layout.stateFile);
  if (!state?.previousBundleDigest) {
    throw new GreenticError("not-found", `${spec.metadata.name}: no previous bundle to roll back to`, {
      hint: "rollback needs two successful applies with different bundles",
    });
  }
  return applyDeployment(spec, { ...options, executor, bundleDigest: state.previousBundleDigest });
}
