import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@greentic/io-kit";
import type { LocalRouterListenFile } from "./local-router.js";
import { isAlive } from "./process-utils.js";

// The router's own supervisor. The process the deployer starts (and records in router.json)
// is this keeper; it runs the router proper (the "worker": listener, revision supervisor, drift
// repair) as a child and starts it again, with backoff, whenever it dies after it had served.
// The two watch each other: a worker whose keeper is gone starts a new keeper that adopts it,
// so a kill -9 of either process leaves the environment URL served. Node built-ins and the
// I/O kit only, like the rest of the router process.

/** Flag of the worker process (the router proper), followed by its keeper's pid. */
export const WORKER_FLAG = "--serve-for";
/** Flag of a keeper started by a worker whose keeper died, followed by that worker's pid. */
export const ADOPT_FLAG = "--adopt";

/** `keeper.json` in the router's state dir: the keeper, its worker and how often it restarted it. */
export interface RouterKeeperFile {
  pid: number;
  worker_pid: number | null;
  /** Worker restarts since the deployer started the router (kept across an adoption). */
  restarts: number;
  last_restart_at?: string;
}

/** First restart delay; doubled per crash in a row up to MAX_BACKOFF_MS, reset after RESET_AFTER_MS up. */
export const BACKOFF_MS = 200;
export const MAX_BACKOFF_MS = 10_000;
export const RESET_AFTER_MS = 30_000;
const POLL_MS = 200;

type Log = (event: Record<string, unknown>) => void;

const without = (argv: readonly string[], flag: string) => {
  const index = argv.indexOf(flag);
  return index === -1 ? [...argv] : [...argv.slice(0, index), ...argv.slice(index + 2)];
};

async function readJson<T>(file: string): Promise<T | undefined> {
  return readFile(file, "utf8").then(
    (text) => JSON.parse(text) as T,
    () => undefined,
  );
}

/**
 * Runs the keeper: `self` is the command that runs the router role (`node local-router-bin.js`
 * or `op --greentic-role router`), `argv` the router's options. With ADOPT_FLAG it takes over a
 * running worker instead of starting one.
 */
export async function runRouterKeeper(self: readonly string[], argv: readonly string[], log: Log): Promise<void> {
  const stateDir = argv[argv.indexOf("--state-dir") + 1]!;
  const keeperFile = join(stateDir, "keeper.json");
  const listenFile = join(stateDir, "listen.json");
  const adoptIndex = argv.indexOf(ADOPT_FLAG);
  const workerArgv = without(argv, ADOPT_FLAG);
  const previous = await readJson<RouterKeeperFile>(keeperFile);
  let worker: number | null = adoptIndex === -1 ? null : Number(argv[adoptIndex + 1]);
  let restarts = adoptIndex === -1 ? 0 : (previous?.restarts ?? 0);
  let lastRestartAt = adoptIndex === -1 ? undefined : previous?.last_restart_at;
  let workerStartedAt = Date.now();
  let streak = 0;
  let notBefore = 0;
  let stopping = false;

  const save = () =>
    writeFileAtomic(
      keeperFile,
      `${JSON.stringify({ pid: process.pid, worker_pid: worker, restarts, ...(lastRestartAt === undefined ? {} : { last_restart_at: lastRestartAt }) } satisfies RouterKeeperFile)}\n`,
      { mode: 0o644 },
    );

  function start(port?: number): number {
    // Back on the port the environment URL names (with `--listen host:0`, any port would do).
    const args =
      port === undefined ? workerArgv : [...without(workerArgv, "--prefer-port"), "--prefer-port", String(port)];
    const child = spawn(self[0]!, [...self.slice(1), ...args, WORKER_FLAG, String(process.pid)], {
      stdio: ["ignore", "inherit", "inherit"],
      cwd: stateDir,
      env: process.env,
    });
    child.on("error", () => {});
    child.on("exit", () => void check());
    workerStartedAt = Date.now();
    return child.pid ?? -1;
  }

  // Installed before the worker starts. A reload goes only to a worker that serves (the listen
  // file names it): one still loading its code would die of the signal, and it reads routes.json
  // when it starts anyway; the deployer signals again once a new worker serves older routes.
  process.on("SIGHUP", () => {
    if (worker === null) return;
    let listen: LocalRouterListenFile | undefined;
    try {
      listen = JSON.parse(readFileSync(listenFile, "utf8")) as LocalRouterListenFile;
    } catch {}
    if (listen?.pid === worker) signal(worker, "SIGHUP");
  });

  if (adoptIndex !== -1) {
    // The deployer's record names the keeper: it names this one from now on.
    const recordFile = join(stateDir, "router.json");
    const record = await readJson<Record<string, unknown>>(recordFile);
    if (record !== undefined)
      await writeFileAtomic(recordFile, `${JSON.stringify({ ...record, pid: process.pid }, null, 2)}\n`, {
        mode: 0o600,
      });
    log({ level: "warn", msg: "router supervisor restarted", pid: process.pid, worker_pid: worker });
  } else {
    worker = start();
  }
  await save();

  let checking = false;
  async function check(): Promise<void> {
    if (checking || stopping || worker === null) return;
    checking = true;
    try {
      if (await isAlive(worker)) {
        if (streak > 0 && Date.now() - workerStartedAt > RESET_AFTER_MS) streak = 0;
        return;
      }
      if (stopping) return;
      const now = Date.now();
      if (notBefore === 0) {
        // A worker that never served (bad listen address, port taken) is not retried: the
        // deployer waiting for it reports why from the log.
        const listen = await readJson<LocalRouterListenFile>(listenFile);
        if (restarts === 0 && adoptIndex === -1 && listen?.pid !== worker) {
          log({ level: "error", msg: "router exited before it served; not restarting", worker_pid: worker });
          await rm(keeperFile, { force: true });
          process.exit(1);
        }
        notBefore = now + Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** streak);
        log({ level: "warn", msg: "router down", worker_pid: worker });
      }
      if (now < notBefore) return;
      notBefore = 0;
      streak += 1;
      const old = worker;
      const served = await readJson<LocalRouterListenFile>(listenFile);
      worker = start(served?.port);
      restarts += 1;
      lastRestartAt = new Date().toISOString();
      await save();
      log({ level: "warn", msg: "router restarted", old_pid: old, pid: worker, restarts });
    } finally {
      checking = false;
    }
  }
  const timer = setInterval(() => void check(), POLL_MS);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    if (worker !== null) signal(worker, "SIGTERM");
    // The worker drains its in-flight requests; the deployer SIGKILLs the group after its grace.
    while (worker !== null && (await isAlive(worker))) await new Promise((resolve) => setTimeout(resolve, 50));
    await rm(keeperFile, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {}
}

/**
 * In the worker: watches the keeper `keeperPid` and, if it dies while the worker runs, starts a
 * new keeper that adopts this worker. Returns a stopper, and calls `onKeeper` with each new
 * keeper's pid.
 */
export function watchKeeper(options: {
  self: readonly string[];
  argv: readonly string[];
  keeperPid: number;
  logFile: string;
  cwd: string;
  log: Log;
  onKeeper(pid: number): void;
}): { stop(): void } {
  let keeper = options.keeperPid;
  let stopped = false;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      if (await isAlive(keeper)) return;
      if (stopped) return;
      const fd = openSync(options.logFile, "a", 0o600);
      try {
        const child = spawn(
          options.self[0]!,
          [...options.self.slice(1), ...without(options.argv, WORKER_FLAG), ADOPT_FLAG, String(process.pid)],
          { detached: true, stdio: ["ignore", fd, fd], cwd: options.cwd, env: process.env },
        );
        child.on("error", () => {});
        child.unref();
        if (child.pid === undefined) return;
        options.log({
          level: "warn",
          msg: "router supervisor down; starting another",
          old_pid: keeper,
          pid: child.pid,
        });
        keeper = child.pid;
        options.onKeeper(keeper);
      } finally {
        closeSync(fd);
      }
    } finally {
      busy = false;
    }
  }, 500);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
