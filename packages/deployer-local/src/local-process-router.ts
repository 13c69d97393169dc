import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { open, readFile, realpath, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { parseListenAddress } from "./listen-address.js";
import {
  routesVersion,
  type LocalRouteDeployment,
  type LocalRouterListenFile,
  type LocalRoutesDocument,
} from "./local-router.js";
import { isAlive, processesWithArgument, stopProcess } from "./process-utils.js";
import { RouterRecordSchema } from "./records.js";
import type { RoleCommand } from "./roles.js";
import { readJsonDocument, readJsonFile, writeJsonFile, type HandlerContext } from "@greentic/env-packs";
import {
  isOurRouter,
  readLocalRouterStatus,
  routerFiles,
  type LocalRouterStatus,
  type RouterRecord,
} from "./local-router-status.js";

/** Where the local router of an environment listens when the answers name no `router_listen`. */
export const DEFAULT_ROUTER_LISTEN = "127.0.0.1:0";

export type { LocalRouterStatus };

/** The router entry script: `dist/local-router-bin.js` of the installed `@greentic/deployer-local`. */
export function defaultRouterBin(): string {
  const pkg = createRequire(import.meta.url).resolve("@greentic/deployer-local/package.json");
  return join(dirname(pkg), "dist", "local-router-bin.js");
}

/** Normalises a listen answer to `host:port` (IPv6 in brackets); throws `validation` when it is not loopback. */
export function normaliseRouterListen(value: string): string {
  try {
    const { host, port } = parseListenAddress(value);
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  } catch (error) {
    throw new GreenticError("validation", `router_listen ${JSON.stringify(value)}: ${(error as Error).message}`, {
      path: "env-packs/deployer/answers.json",
      hint: "give router_listen as a loopback host:port, e.g. 127.0.0.1:8080 (port 0 picks a free port)",
    });
  }
}

/** The router's files; `create: false` for readers, which never create the data directory. */
async function routerPaths(ctx: HandlerContext, options: { create?: boolean } = {}) {
  return routerFiles(await ctx.dataDir("router", options));
}

async function tail(file: string, lines = 8): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The router of the environment behind `ctx` (never throws for a missing router). */
export async function localRouterStatus(ctx: HandlerContext): Promise<LocalRouterStatus> {
  const paths = await routerPaths(ctx, { create: false });
  // router.json is checked like every record; listen.json is the router's own, read as is.
  return readLocalRouterStatus(paths.dir, (file) =>
    file === paths.record ? readJsonDocument(file, RouterRecordSchema) : readJsonFile(file),
  );
}

/** The environment's stable URL (the router's), or `undefined` when no router runs. */
export async function localRouterUrl(ctx: HandlerContext): Promise<string | undefined> {
  return (await localRouterStatus(ctx)).url;
}

/** Options of {@link syncLocalRouter}. */
export interface SyncRouterOptions {
  /** How to start the router (roles.ts). */
  router: RoleCommand;
  /** Normalised `host:port`. */
  listen: string;
  /** Start the router when it is not running (false: only refresh a running one). */
  start: boolean;
  stopGraceMs: number;
  timeoutMs?: number;
  /** The deployer's process records: the router supervises (restarts) the revisions recorded there. */
  processesDir?: string;
  /**
   * The store's `runtime-config.json` and the deployer's `splits.json` (with `processesDir`):
   * the router repairs traffic that differs from the store within about a second.
   */
  desired?: { desiredFile: string; splitsFile: string };
  /** Size at which the router rotates the logs it keeps (default 10 MiB). */
  rotateBytes?: number | undefined;
}

/**
 * Writes `routes.json` atomically, then reloads the running router (SIGHUP) or starts one,
 * and waits until the router reports that it serves exactly these routes. Returns the
 * router's status, or `undefined` when no router runs and `start` is false.
 */
export async function syncLocalRouter(
  ctx: HandlerContext,
  deployments: LocalRouteDeployment[],
  options: SyncRouterOptions,
): Promise<LocalRouterStatus | undefined> {
  const paths = await routerPaths(ctx);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const doc: LocalRoutesDocument = {
    schema: "greentic.local-process.routes.v1",
    env_id: ctx.envId,
    version: routesVersion(ctx.envId, deployments),
    deployments,
  };
  await writeJsonFile(paths.routes, doc);

  const record = await readJsonDocument(paths.record, RouterRecordSchema);
  const running = record !== undefined && (await isOurRouter(record));
  if (
    running &&
    record.listen === options.listen &&
    record.processes_dir === options.processesDir &&
    record.desired_file === options.desired?.desiredFile
  ) {
    await waitLoaded(paths, record, doc.version, timeoutMs, { signal: true });
    ctx.log?.({ event: "local-process.router-reloaded", pid: record.pid, routes_version: doc.version });
    return localRouterStatus(ctx);
  }
  if (!options.start && !running) return undefined;
  if (running) await stopLocalRouter(ctx, options.stopGraceMs);

  const bin = await realpath(options.router.bin).catch(() => options.router.bin);
  if (!existsSync(bin)) {
    throw new GreenticError("precondition-failed", `the local router ${bin} does not exist`, {
      hint: "build @greentic/deployer-local (pnpm --filter @greentic/deployer-local build) or set GREENTIC_LOCAL_ROUTER_BIN",
      details: { code: "router-missing", router_bin: bin },
    });
  }
  // A router the record does not name (an op killed between starting it and recording it)
  // would fight the new one over listen.json, and over the port: stop it first.
  for (const pid of await processesWithArgument("--state-dir", paths.dir)) await stopProcess(pid, options.stopGraceMs);
  await rm(paths.listen, { force: true });
  const args = [
    ...options.router.argv.map((arg) => (arg === options.router.bin ? bin : arg)),
    "--state-dir",
    paths.dir,
    "--listen",
    options.listen,
  ];
  if (options.processesDir !== undefined) args.push("--processes-dir", options.processesDir);
  if (options.processesDir !== undefined && options.desired !== undefined)
    args.push("--desired", options.desired.desiredFile, "--splits", options.desired.splitsFile);
  if (options.processesDir !== undefined && options.rotateBytes !== undefined)
    args.push("--rotate-bytes", String(options.rotateBytes));
  // With port 0, come back on the port used before (a crash or a listen change) when it is free.
  if (options.listen.endsWith(":0") && record?.port != null) args.push("--prefer-port", String(record.port));
  const log = await open(paths.log, "a", 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(args[0]!, args.slice(1), {
      detached: true,
      stdio: ["ignore", log.fd, log.fd],
      cwd: paths.dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    child.on("error", () => {});
    child.unref();
    pid = child.pid;
  } finally {
    await log.close();
  }
  if (pid === undefined)
    throw new GreenticError("io", `could not start ${args.join(" ")}`, {
      hint: "check that the router's program can run (GREENTIC_LOCAL_ROUTER_BIN)",
    });
  const started: RouterRecord = {
    pid,
    router_bin: bin,
    state_dir: paths.dir,
    listen: options.listen,
    ...(options.processesDir === undefined ? {} : { processes_dir: options.processesDir }),
    ...(options.desired === undefined ? {} : { desired_file: options.desired.desiredFile }),
    port: null,
    started_at: new Date().toISOString(),
    log: paths.log,
  };
  await writeJsonFile(paths.record, started);
  const listen = await waitLoaded(paths, started, doc.version, timeoutMs).catch(async (error: unknown) => {
    await stopLocalRouter(ctx, options.stopGraceMs);
    throw error;
  });
  await writeJsonFile(paths.record, { ...started, port: listen.port });
  ctx.log?.({ event: "local-process.router-started", pid, url: listen.url });
  return localRouterStatus(ctx);
}

async function waitLoaded(
  paths: Awaited<ReturnType<typeof routerPaths>>,
  record: RouterRecord,
  version: string,
  timeoutMs: number,
  options: { signal?: boolean } = {},
): Promise<LocalRouterListenFile> {
  const deadline = Date.now() + timeoutMs;
  // The router process whose reload was asked for. A router is signalled only once it serves
  // (its listen file names it): SIGHUP's default action kills a process still loading its code,
  // and one that has not served yet reads routes.json when it starts. A router that served
  // routes older than the file's gets the signal, again if it is a new one (a restart).
  let signalled: number | undefined;
  for (;;) {
    const listen = (await readJsonFile(paths.listen).catch(() => undefined)) as LocalRouterListenFile | undefined;
    // Served by the keeper's router (router-keeper.ts), or by a router started without one.
    const serving = listen?.keeper_pid === record.pid || listen?.pid === record.pid;
    if (serving && listen?.routes_version === version) return listen;
    if (options.signal && serving && listen !== undefined && signalled !== listen.pid) {
      signalled = listen.pid;
      try {
        process.kill(record.pid, "SIGHUP");
      } catch {}
    }
    if (!(await isAlive(record.pid))) {
      throw new GreenticError(
        "io",
        `the local router exited (listen ${record.listen}); last log lines:\n${await tail(record.log)}`,
        {
          hint: "if the port is taken, choose another router_listen in env-packs/deployer/answers.json (port 0 picks a free one)",
          details: { code: "router-start-failed", listen: record.listen },
        },
      );
    }
    if (Date.now() > deadline) {
      throw new GreenticError(
        "io",
        `the local router (pid ${record.pid}) did not load the new routes within ${timeoutMs} ms${listen?.error === undefined ? "" : `: ${listen.error}`}; see ${record.log}`,
        {
          hint: "retry the traffic change; if it persists, destroy and re-create the environment's router",
          details: { code: "router-reload-timeout", pid: record.pid },
        },
      );
    }
    await sleep(50);
  }
}

/** Stops the environment's router if it is ours; true when a process was stopped. */
export async function stopLocalRouter(ctx: HandlerContext, graceMs: number): Promise<boolean> {
  const paths = await routerPaths(ctx);
  const record = await readJsonDocument(paths.record, RouterRecordSchema);
  if (record === undefined) return false;
  const ours = await isOurRouter(record);
  if (ours) await stopProcess(record.pid, graceMs);
  await rm(paths.record, { force: true });
  await rm(paths.listen, { force: true });
  ctx.log?.({ event: "local-process.router-stopped", pid: record.pid, was_running: ours });
  return ours;
}
