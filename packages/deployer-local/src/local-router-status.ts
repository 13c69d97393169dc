import { join } from "node:path";
import type { LocalRouterListenFile } from "./local-router.js";
import { isAlive, isOurCommand } from "./process-utils.js";
import type { RouterKeeperFile } from "./router-keeper.js";
import type { DeployerRouterStatus } from "@greentic/env-packs";

// The read side of the local-process router: what `op env show` and `op status` report.

/** The environment's router as the local-process deployer sees it. */
export interface LocalRouterStatus extends DeployerRouterStatus {
  /** `running`: process alive; `stopped`: never started or stopped; `failed`: recorded process is gone. */
  state: "running" | "stopped" | "failed";
  pid?: number;
  /** The environment's stable URL, e.g. `http://127.0.0.1:8080/`. */
  url?: string;
  /** The listen address asked for (`host:port`; port 0 = any free port). */
  listen?: string;
  started_at?: string;
  /** Log file of the router process (JSON lines). */
  log?: string;
  /** Version token of the routes the router has loaded. */
  routes_version?: string | null;
  /** Why the router refused its last reload, if it did. */
  error?: string;
  /** The router's keeper (router-keeper.ts), which restarts it; the recorded process. */
  supervisor_pid?: number;
}

/** `router/router.json`: the router process the deployer started. */
export interface RouterRecord {
  pid: number;
  router_bin: string;
  state_dir: string;
  listen: string;
  /** The deployer's process records the router supervises, when it does. */
  processes_dir?: string | undefined;
  /** The store's runtime-config.json the router converges to, when it repairs drift. */
  desired_file?: string | undefined;
  port: number | null;
  started_at: string;
  log: string;
}

/** The router's files in its data area (`<env>/data/router/`). */
export function routerFiles(dir: string) {
  return {
    dir,
    routes: join(dir, "routes.json"),
    listen: join(dir, "listen.json"),
    record: join(dir, "router.json"),
    keeper: join(dir, "keeper.json"),
    log: join(dir, "router.log"),
  };
}

export async function isOurRouter(record: RouterRecord): Promise<boolean> {
  return isOurCommand(record.pid, [record.router_bin, record.state_dir]);
}

/**
 * The router whose data area is `dir`. `readJson` reads a JSON file (`undefined` when absent);
 * its errors propagate, except for `listen.json`, which the router may be rewriting.
 */
export async function readLocalRouterStatus(
  dir: string,
  readJson: (file: string) => Promise<unknown>,
): Promise<LocalRouterStatus> {
  const paths = routerFiles(dir);
  const record = (await readJson(paths.record)) as RouterRecord | undefined;
  if (record === undefined) return { state: "stopped" };
  const base = { pid: record.pid, listen: record.listen, started_at: record.started_at, log: record.log };
  if (!(await isOurRouter(record))) return { state: "failed", ...base };
  const listen = (await readJson(paths.listen).catch(() => undefined)) as LocalRouterListenFile | undefined;
  const keeper = (await readJson(paths.keeper).catch(() => undefined)) as RouterKeeperFile | undefined;
  // The recorded process is the router's keeper; the router proper is the process in
  // listen.json. A router started without a keeper is its own record.
  const supervised = keeper?.pid === record.pid;
  const restarts = supervised ? { restarts: keeper.restarts, supervisor_pid: record.pid } : {};
  const serving =
    listen !== undefined && (listen.pid === record.pid || (supervised && listen.keeper_pid === record.pid));
  if (supervised && !(serving && listen.pid === keeper.worker_pid && (await isAlive(listen.pid))))
    // The keeper runs but its router is down: it is being restarted.
    return { state: "failed", ...base, pid: keeper.worker_pid ?? record.pid, ...restarts };
  return {
    state: "running",
    ...base,
    ...(serving ? { pid: listen.pid } : {}),
    ...restarts,
    ...(serving
      ? {
          url: listen.url,
          routes_version: listen.routes_version,
          ...(listen.error === undefined ? {} : { error: listen.error }),
        }
      : {}),
  };
}

/** A deployer's router status as `op env show` reports it: `{state, pid, url}` with nulls. */
export function envRouterInfo(status: DeployerRouterStatus): {
  state: DeployerRouterStatus["state"];
  pid: number | null;
  url: string | null;
  restarts: number | null;
} {
  return { state: status.state, pid: status.pid ?? null, url: status.url ?? null, restarts: status.restarts ?? null };
}
