import { parseAdminBind, type DeploymentSpec } from "@greentic/deploy-spec";
import { adminRequest } from "@greentic/runtime";
import { hostPath } from "./executor.js";
import { hashFile, readText, sha256 } from "./host-fs.js";
import {
  executorFor,
  observeMount,
  observeUnits,
  type PlanOptions,
  type SingleVmState,
  type UnitObservation,
} from "./plan.js";
import { readStateFile } from "./documents.js";
import { layoutFor } from "./render.js";
import { canaryStatus, isCanary, type CanaryStatus } from "./canary.js";

export interface DeploymentStatus {
  deployment: string;
  /** `not-installed` (nothing there), `applied` (state ok, no drift, service active), `degraded` otherwise. */
  status: "not-installed" | "applied" | "degraded";
  units: { service: UnitObservation; mount: UnitObservation } | null;
  mount: { source: string; options: string; readOnly: boolean } | null;
  readiness: { status: number } | { error: string } | null;
  /** Generated files whose content differs from what apply wrote, or that are missing. */
  drift: Array<{ path: string; problem: "changed" | "missing" }>;
  bundleDigest: string | null;
  /** Digest of the bundle file actually behind the mount (verified now). */
  mountedBundleDigest: string | null;
  mainPid: number | null;
  state: SingleVmState | null;
  summary: string;
  /** Canary strategy: the proxy and every revision (the fields above stay empty). */
  canary?: CanaryStatus;
}

/** Units, mount, readiness over mTLS, drift and bundle digest of a deployment. Read-only. */
export async function deploymentStatus(spec: DeploymentSpec, options: PlanOptions = {}): Promise<DeploymentStatus> {
  if (isCanary(spec)) {
    const c = await canaryStatus(spec, options);
    return {
      deployment: c.deployment,
      status: c.status,
      units: null,
      mount: null,
      readiness: null,
      drift: [],
      bundleDigest: null,
      mountedBundleDigest: null,
      mainPid: null,
      state: null,
      summary: c.summary,
      canary: c,
    };
  }
  const executor = executorFor(options);
  const layout = layoutFor(spec);
  const state: SingleVmState | null = await readStateFile(hostPath(executor, layout.stateFile), layout.stateFile);
  const units = executor.mode === "execute" ? await observeUnits(executor, layout) : null;
  const mountRaw = executor.mode === "execute" ? await observeMount(executor, spec.spec.bundle.mountPath) : null;
  const mount = mountRaw
    ? { source: mountRaw.source, options: mountRaw.options, readOnly: mountRaw.options.split(",").includes("ro") }
    : null;
  const drift: DeploymentStatus["drift"] = [];
  for (const [path, hash] of Object.entries(state?.unitHashes ?? {})) {
    const current = await readText(hostPath(executor, path));
    if (current === null) drift.push({ path, problem: "missing" });
    else if (sha256(current) !== hash) drift.push({ path, problem: "changed" });
  }
  let mountedBundleDigest: string | null = null;
  if (state) {
    const digest = await hashFile(
      hostPath(executor, `${layout.bundlesDir}/${state.bundleDigest.replace(/^sha256:/, "")}.gtbundle`),
    );
    mountedBundleDigest = digest === null ? null : `sha256:${digest}`;
  }
  let readiness: DeploymentStatus["readiness"] = null;
  if (executor.mode === "execute" && units?.service.active === "active") {
    try {
      const r = await adminRequest({
        address: parseAdminBind(spec.spec.runtime.admin.bind),
        path: spec.spec.health.readinessPath,
        certDir: hostPath(executor, layout.deployerDir),
        timeoutMs: 3_000,
      });
      readiness = { status: r.status };
    } catch (error) {
      readiness = { error: (error as Error).message };
    }
  }
  const pidText =
    executor.mode === "execute"
      ? (await executor.run("systemctl", ["show", "--property=MainPID", "--value", layout.serviceUnit])).stdout.trim()
      : "";
  const mainPid = Number(pidText) > 0 ? Number(pidText) : null;
  const nothing =
    state === null &&
    mount === null &&
    (units === null || (units.service.active === "inactive" && units.mount.active === "inactive"));
  const healthy =
    state?.lastResult.ok &&
    drift.length === 0 &&
    units?.service.active === "active" &&
    mount?.readOnly === true &&
    readiness !== null &&
    "status" in readiness &&
    readiness.status === 200 &&
    mountedBundleDigest === state.bundleDigest;
  const status: DeploymentStatus["status"] = nothing ? "not-installed" : healthy ? "applied" : "degraded";
  const parts = [
    `${spec.metadata.name}: ${status}`,
    units ? `service ${units.service.active}, mount ${units.mount.active}` : "units unknown",
    readiness ? ("status" in readiness ? `ready ${readiness.status}` : `readiness: ${readiness.error}`) : "",
    drift.length ? `drift: ${drift.map((d) => `${d.path} ${d.problem}`).join(", ")}` : "",
    state ? `bundle ${state.bundleDigest}` : "",
  ].filter(Boolean);
  return {
    deployment: spec.metadata.name,
    status,
    units,
    mount,
    readiness,
    drift,
    bundleDigest: state?.bundleDigest ?? null,
    mountedBundleDigest,
    mainPid,
    state,
    summary: parts.join("; "),
  };
}
