import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type LocalRouteDeployment, type LocalRoutesDocument, routesVersion } from "./local-router.js";
import { isAlive } from "./process-utils.js";

// Runs inside the router process (Node built-ins only), beside the supervisor: the router
// outlives every `op` call, so it is where traffic that differs from the store is noticed and
// put right when no command does it (an `op traffic set` killed between its store commit and
// its router update).

/** Options of {@link startDriftRepair}. */
export interface DriftRepairOptions {
  /** The store's committed `runtime-config.json` (`greentic.runtime-config.v1`): desired traffic. */
  desiredFile: string;
  /** The deployer's `traffic/splits.json`: what it last applied (read by `op status` as live). */
  splitsFile: string;
  /** The deployer's process records (ports of running revisions). */
  processesDir: string;
  /** The router's `routes.json`. */
  routesFile: string;
  /** Drift is repaired once it has lasted this long (default 1 s), so a command applying it itself goes first. */
  graceMs?: number;
  /** Poll period (default 250 ms). */
  intervalMs?: number;
  served(): LocalRouteDeployment[] | undefined;
  reload(): Promise<void>;
  log(event: Record<string, unknown>): void;
}

interface DesiredSplit {
  bundle_id: string;
  entries: { revision_id: string; weight_bps: number }[];
}

const keyOf = (entries: readonly { revision_id: string; weight_bps: number }[] | undefined) =>
  (entries ?? [])
    .filter((e) => e.weight_bps > 0)
    .map((e) => `${e.revision_id}=${e.weight_bps}`)
    .sort()
    .join(",");

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file).catch(async (error: unknown) => {
    await rm(temp, { force: true });
    throw error;
  });
}

/** The store's desired splits by deployment; a missing file is "no traffic anywhere". */
export async function readDesired(
  file: string,
): Promise<{ envId: string | undefined; splits: Map<string, DesiredSplit> }> {
  const doc = (await readJson(file)) as
    | {
        schema?: string;
        env_id?: string;
        revisions?: { deployment_id: string; revision_id: string; bundle_id: string; weight_bps: number }[];
      }
    | undefined;
  const splits = new Map<string, DesiredSplit>();
  if (doc === undefined) return { envId: undefined, splits };
  if (doc.schema !== "greentic.runtime-config.v1" || !Array.isArray(doc.revisions))
    throw new Error(`${file}: not a greentic.runtime-config.v1 document`);
  for (const r of doc.revisions) {
    const split = splits.get(r.deployment_id) ?? { bundle_id: r.bundle_id, entries: [] };
    split.entries.push({ revision_id: r.revision_id, weight_bps: r.weight_bps });
    splits.set(r.deployment_id, split);
  }
  return { envId: doc.env_id, splits };
}

/**
 * Compares the store's desired traffic with the deployer's applied splits and the router's
 * live table every `intervalMs`. A difference that lasts `graceMs` is repaired: the routes are
 * rebuilt from the desired splits and the recorded ports (a revision that is not running gets
 * no port: its share answers 502 and `op status` names it), the router reloads them, and the
 * splits file is rewritten, so the next `op status` shows no drift.
 */
export function startDriftRepair(options: DriftRepairOptions): { stop(): void } {
  const grace = options.graceMs ?? 1_000;
  let firstSeen: number | undefined;
  let reported = "";
  let running = false;
  let stopped = false;

  async function portOf(revisionId: string): Promise<number | null> {
    const record = (await readJson(join(options.processesDir, `${revisionId}.json`)).catch(() => undefined)) as
      | { pid?: number; public_port?: number | null }
      | undefined;
    if (typeof record?.pid !== "number" || typeof record.public_port !== "number") return null;
    return (await isAlive(record.pid)) ? record.public_port : null;
  }

  async function check(): Promise<void> {
    const desired = await readDesired(options.desiredFile);
    const applied = (await readJson(options.splitsFile)) as
      | {
          splits?: Record<
            string,
            {
              entries?: { revision_id: string; weight_bps: number }[];
              route?: { hosts: string[]; path_prefixes: string[] };
            }
          >;
        }
      | undefined;
    const served = new Map((options.served() ?? []).map((d) => [d.deployment_id, d.entries]));
    const ids = new Set([...desired.splits.keys(), ...Object.keys(applied?.splits ?? {}), ...served.keys()]);
    const drifted = [...ids].sort().filter((id) => {
      const want = keyOf(desired.splits.get(id)?.entries);
      return want !== keyOf(applied?.splits?.[id]?.entries) || want !== keyOf(served.get(id));
    });
    if (drifted.length === 0) {
      firstSeen = undefined;
      return;
    }
    const now = Date.now();
    firstSeen ??= now;
    if (now - firstSeen < grace) return;
    const deployments: LocalRouteDeployment[] = [];
    for (const id of [...desired.splits.keys()].sort()) {
      const split = desired.splits.get(id)!;
      const entries = [];
      for (const { revision_id, weight_bps } of split.entries)
        entries.push({ revision_id, weight_bps, port: await portOf(revision_id) });
      // The desired traffic carries no route binding: the one last applied is kept.
      const route = applied?.splits?.[id]?.route;
      deployments.push({
        deployment_id: id,
        bundle_id: split.bundle_id,
        entries,
        ...(route === undefined ? {} : { hosts: route.hosts, path_prefixes: route.path_prefixes }),
      });
    }
    const envId = desired.envId ?? "";
    const doc: LocalRoutesDocument = {
      schema: "greentic.local-process.routes.v1",
      env_id: envId,
      version: routesVersion(envId, deployments),
      deployments,
    };
    await writeJson(options.routesFile, doc);
    await options.reload();
    await writeJson(options.splitsFile, {
      schema: "greentic.local-process.splits.v1",
      splits: Object.fromEntries(
        [...desired.splits].map(([id, split]) => [
          id,
          {
            bundle_id: split.bundle_id,
            ...(applied?.splits?.[id]?.route === undefined ? {} : { route: applied.splits[id]!.route }),
            entries: split.entries.map((e) => ({ ...e })),
          },
        ]),
      ),
    });
    firstSeen = undefined;
    options.log({
      level: "warn",
      msg: "traffic drift repaired",
      deployments: drifted,
      routes_version: doc.version,
    });
  }

  const timer = setInterval(() => {
    if (running || stopped) return;
    running = true;
    void check()
      .then(() => {
        reported = "";
      })
      .catch((error: Error) => {
        // Said once per distinct failure, not every 250 ms.
        if (error.message !== reported)
          options.log({ level: "error", msg: "drift check failed", error: error.message });
        reported = error.message;
      })
      .finally(() => {
        running = false;
      });
  }, options.intervalMs ?? 250);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
