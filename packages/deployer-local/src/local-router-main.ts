// The local-process router process:
//   --state-dir DIR --listen HOST:PORT [--prefer-port N] [--processes-dir DIR]
//   [--desired FILE --splits FILE]
// SIGHUP re-reads DIR/routes.json; SIGTERM/SIGINT drain in-flight requests and exit 0.
// With --processes-dir the router also supervises the revisions recorded there (supervisor.ts);
// with --desired (the store's runtime-config.json) and --splits (the deployer's splits.json) it
// also repairs traffic that differs from the store (drift-repair.ts).
// Run by local-router-bin.ts (`node dist/local-router-bin.js`) and by the single-file `op`.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { parseListenAddress, startLocalRouter, type LocalRouter } from "./local-router.js";
import { startDriftRepair } from "./drift-repair.js";
import { startSupervisor, type Supervisor } from "./supervisor.js";
import { WORKER_FLAG, runRouterKeeper, watchKeeper } from "./router-keeper.js";

const log = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...event })}\n`);

/**
 * Runs the router with the options in `argv` until SIGTERM/SIGINT. `self` is the command that
 * runs this role again: without WORKER_FLAG this process is the router's keeper
 * (router-keeper.ts), which runs the router proper as `self argv WORKER_FLAG <keeper pid>`.
 */
export async function runLocalRouter(argv: readonly string[], self: readonly string[]): Promise<void> {
  const workerIndex = argv.indexOf(WORKER_FLAG);
  if (workerIndex === -1) {
    await runRouterKeeper(self, argv, log);
    return;
  }
  const keeperPid = Number(argv[workerIndex + 1]);
  // Installed first: SIGHUP's default action would kill a router signalled while starting.
  let router: LocalRouter | undefined;
  let supervisor: Supervisor | undefined;
  let driftRepair: { stop(): void } | undefined;
  let keeperWatch: { stop(): void } | undefined;
  let reloadPending = false;
  process.on("SIGHUP", () => {
    if (router === undefined) reloadPending = true;
    else void router.reload();
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    keeperWatch?.stop();
    supervisor?.stop();
    driftRepair?.stop();
    void (router?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  function arg(name: string): string | undefined {
    const index = argv.indexOf(name);
    return index === -1 ? undefined : argv[index + 1];
  }

  try {
    const stateDir = arg("--state-dir");
    const listen = parseListenAddress(arg("--listen") ?? "127.0.0.1:0");
    const prefer = arg("--prefer-port");
    if (stateDir === undefined) throw new Error("--state-dir is required");
    router = await startLocalRouter({
      stateDir,
      ...listen,
      ...(prefer === undefined ? {} : { preferPort: Number(prefer) }),
      keeperPid,
      log,
    });
    if (reloadPending) await router.reload();
    const serving = router;
    keeperWatch = watchKeeper({
      self,
      argv,
      keeperPid,
      logFile: join(stateDir, "router.log"),
      cwd: stateDir,
      log,
      onKeeper: (pid) => void serving.setKeeper(pid),
    });
    const processesDir = arg("--processes-dir");
    if (processesDir !== undefined) {
      const started = router;
      // routes.json has each revision's port as the deployer last wrote it; a revision the
      // supervisor restarted since listens elsewhere (its record says where). Matters when this
      // router is itself a restart.
      for (const name of await readdir(processesDir).catch(() => [] as string[])) {
        if (!name.endsWith(".json")) continue;
        const record = await readFile(join(processesDir, name), "utf8")
          .then((text) => JSON.parse(text) as { revision_id?: unknown; public_port?: unknown })
          .catch(() => undefined);
        if (typeof record?.revision_id === "string" && typeof record.public_port === "number")
          started.setPort(record.revision_id, record.public_port);
      }
      const rotateBytes = arg("--rotate-bytes");
      supervisor = startSupervisor({
        processesDir,
        log,
        onPort: (revisionId, port) => started.setPort(revisionId, port),
        logs: [join(stateDir, "router.log")],
        ...(rotateBytes === undefined ? {} : { rotateBytes: Number(rotateBytes) }),
      });
      const desiredFile = arg("--desired");
      const splitsFile = arg("--splits");
      if (desiredFile !== undefined && splitsFile !== undefined)
        driftRepair = startDriftRepair({
          desiredFile,
          splitsFile,
          processesDir,
          routesFile: join(stateDir, "routes.json"),
          served: () => started.served(),
          reload: () => started.reload(),
          log,
        });
    }
  } catch (error) {
    log({
      level: "error",
      msg: "router failed to start",
      error: (error as Error).message,
      code: (error as NodeJS.ErrnoException).code,
    });
    process.exit(1);
  }
}
