import { readFile } from "node:fs/promises";
import { GreenticError, type DeploymentSpec } from "@greentic/deploy-spec";
import { readCanaryRecord, setCanarySplit } from "./canary.js";
import { hostPath } from "./executor.js";
import { readText, removePath, writeFileAtomic } from "./host-fs.js";
import { executorFor, type PlanOptions } from "./plan.js";
import { liveSplit, proxyLayout, type WeightedRevision } from "./proxy.js";
import { execCommandLine, renderUnitFile, type UnitFile } from "./unit-file.js";

/**
 * Repairs a canary VM whose proxy (or canary record) lags the environment store: an `op traffic
 * set` killed between the store's commit and the runtime-API push leaves HAProxy on the old
 * split. Two things put it right without the operator:
 * - on the VM, a systemd path unit watches the store's committed `runtime-config.json` and runs
 *   the repair (`traffic-repair-main.js`) when it changes, and once at boot;
 * - `op traffic show`, `op status` and every traffic command read the live split through the
 *   deployer, which applies the stored one when they differ.
 * The repair writes only the VM's side (canary record, map files, the runtime API), never the store.
 */

const key = (entries: readonly WeightedRevision[]) =>
  entries
    .filter((e) => e.weight_bps > 0)
    .map((e) => `${e.revision_id}=${e.weight_bps}`)
    .sort()
    .join(",");

/**
 * The split the store asks for, for one deployment, from its committed `runtime-config.json`
 * (`greentic.runtime-config.v1`); `[]` when the store has no traffic for it (no file, or no
 * entry of the deployment).
 */
export async function readDesiredSplit(file: string, deploymentId: string): Promise<WeightedRevision[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const doc = JSON.parse(text) as {
    schema?: string;
    revisions?: { deployment_id: string; revision_id: string; weight_bps: number }[];
  };
  if (doc.schema !== "greentic.runtime-config.v1" || !Array.isArray(doc.revisions))
    throw new GreenticError("integrity", `${file} is not a greentic.runtime-config.v1 document`);
  return doc.revisions
    .filter((r) => r.deployment_id === deploymentId && r.weight_bps > 0)
    .map((r) => ({ revision_id: r.revision_id, weight_bps: r.weight_bps }));
}

export interface CanaryRepair {
  /** Whether the VM differed from `desired` and was brought to it. */
  repaired: boolean;
  /** What HAProxy applies after the repair (null when its admin socket does not answer). */
  live: WeightedRevision[] | null;
}

/**
 * Brings the canary record and HAProxy's live split to `desired` when either differs, through
 * {@link setCanarySplit} (the same checks: every weighted revision warm and running). An empty
 * `desired` (the store has no split) changes nothing.
 */
export async function repairCanarySplit(
  spec: DeploymentSpec,
  desired: readonly WeightedRevision[],
  options: PlanOptions & {
    /** The deployment `desired` is for: on a VM that routes several, only its entries are compared and set. */
    deploymentId?: string;
  } = {},
): Promise<CanaryRepair> {
  const executor = executorFor(options);
  const live = await liveSplit(executor, spec).catch(() => null);
  if (desired.length === 0 || executor.mode !== "execute") return { repaired: false, live };
  const record = await readCanaryRecord(executor, spec);
  const route = options.deploymentId === undefined ? undefined : record.routes?.[options.deploymentId];
  // Several deployments share the proxy: compare and set this one's entries only, with its binding.
  const mine = (entries: readonly WeightedRevision[]) =>
    route === undefined
      ? entries
      : entries.filter((e) => record.revisions[e.revision_id]?.deployment === options.deploymentId);
  if (live !== null && key(mine(live)) === key(desired) && key(mine(record.split?.entries ?? [])) === key(desired))
    return { repaired: false, live };
  const after = await setCanarySplit(spec, desired, {
    ...options,
    executor,
    ...(route === undefined ? {} : { deployment: { id: options.deploymentId!, ...route } }),
  });
  return { repaired: true, live: after.live };
}

/** What the repair units run: node, the repair script, the spec, the store file, the deployment. */
export interface TrafficRepairOptions {
  /** `[node, /path/to/traffic-repair-main.js]` as this VM runs it. */
  command: readonly string[];
  /** The deployment spec on the VM (the answers' `spec_path`). */
  specPath: string;
  /** The store's committed `runtime-config.json` of the environment. */
  desiredFile: string;
  deploymentId: string;
}

export interface TrafficRepairLayout {
  service: string;
  path: string;
  serviceFile: string;
  pathFile: string;
}

export function trafficRepairLayout(spec: DeploymentSpec): TrafficRepairLayout {
  const base = `greentic-${spec.metadata.name}-traffic-repair`;
  return {
    service: `${base}.service`,
    path: `${base}.path`,
    serviceFile: `/etc/systemd/system/${base}.service`,
    pathFile: `/etc/systemd/system/${base}.path`,
  };
}

/** The oneshot repair service (also run once at boot, after the proxy) and its path unit. */
export function trafficRepairUnits(
  spec: DeploymentSpec,
  options: TrafficRepairOptions,
): { service: UnitFile; path: UnitFile } {
  const l = trafficRepairLayout(spec);
  const proxy = proxyLayout(spec).unit;
  const header = [
    `Generated by greentic single-vm for deployment ${spec.metadata.name}.`,
    "Puts HAProxy back on the store's split when a command died before pushing it.",
  ];
  return {
    service: {
      header,
      sections: [
        {
          name: "Unit",
          entries: [
            ["Description", `Greentic traffic repair for ${spec.metadata.name} (HAProxy follows the store's split)`],
            ["After", proxy],
          ],
        },
        {
          name: "Service",
          entries: [
            ["Type", "oneshot"],
            ["Environment", "NO_COLOR=1"],
            [
              "ExecStart",
              execCommandLine([
                ...options.command,
                "--spec",
                options.specPath,
                "--desired",
                options.desiredFile,
                "--deployment",
                options.deploymentId,
              ]),
            ],
            // Root like `op` on this VM: the canary record and the proxy's admin socket.
            ["NoNewPrivileges", "yes"],
          ],
        },
        { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
      ],
    },
    path: {
      header,
      sections: [
        { name: "Unit", entries: [["Description", `Watch ${spec.metadata.name}'s stored traffic split`]] },
        {
          name: "Path",
          entries: [
            ["PathChanged", options.desiredFile],
            ["Unit", l.service],
          ],
        },
        { name: "Install", entries: [["WantedBy", "multi-user.target"]] },
      ],
    },
  };
}

/**
 * Writes the repair units when they differ from what the VM has, and enables them (the path
 * unit started). Nothing is done when they are already in place, so a traffic set pays two reads.
 */
export async function installTrafficRepair(
  spec: DeploymentSpec,
  options: TrafficRepairOptions,
  planOptions: PlanOptions = {},
): Promise<boolean> {
  const executor = executorFor(planOptions);
  const l = trafficRepairLayout(spec);
  const units = trafficRepairUnits(spec, options);
  const files: Array<[string, string]> = [
    [l.serviceFile, renderUnitFile(units.service)],
    [l.pathFile, renderUnitFile(units.path)],
  ];
  let changed = false;
  for (const [file, content] of files) {
    if ((await readText(hostPath(executor, file))) === content) continue;
    await writeFileAtomic(executor, file, content, 0o644, { uid: 0, gid: 0 });
    changed = true;
  }
  if (!changed) return false;
  for (const args of [
    ["daemon-reload"],
    ["enable", "--quiet", l.service],
    ["enable", "--quiet", l.path],
    ["restart", l.path],
  ]) {
    const r = await executor.run("systemctl", args);
    if (r.code !== 0)
      throw new GreenticError("io", `systemctl ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`, {
        hint: "run op as root on the VM (`op single-vm preflight`)",
      });
  }
  return true;
}

/** Stops and removes the repair units (the deployment is destroyed). */
export async function removeTrafficRepair(spec: DeploymentSpec, planOptions: PlanOptions = {}): Promise<void> {
  const executor = executorFor(planOptions);
  const l = trafficRepairLayout(spec);
  if (
    (await readText(hostPath(executor, l.pathFile))) === null &&
    (await readText(hostPath(executor, l.serviceFile))) === null
  )
    return;
  await executor.run("systemctl", ["disable", "--now", "--quiet", l.path, l.service]);
  await removePath(executor, l.pathFile);
  await removePath(executor, l.serviceFile);
  await executor.run("systemctl", ["daemon-reload"]);
  await executor.run("systemctl", ["reset-failed", l.path, l.service]);
}
