// The local-process router process:
//   --state-dir DIR --listen HOST:PORT [--prefer-port N] [--processes-dir DIR]
//   [--desired FILE --splits FILE]
// SIGHUP re-reads DIR/routes.json; SIGTERM/SIGINT drain in-flight requests and exit 0.
// With --processes-dir the router also supervises the revisions recorded there (supervisor.ts);
// with --desired (the store's runtime-config.json) and --splits (the deployer's splits.json) it
// also repairs traffic that differs from the store (drift-repair.ts).
// Run by local-router-bin.ts (`node dist/local-router-bin.js`) and by the single-file `op`.
import { join } from "node:path";
import { parseListenAddress, startLocalRouter, type LocalRouter } from "./local-router.js";
import { startDriftRepair } from "./drift-repair.js";
import { startSupervisor, type Supervisor } from "./supervisor.js";

const log = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...event })}\n`);

/** Runs the router with the options in `argv` until SIGTERM/SIGINT. */
export async function runLocalRouter(argv: readonly string[]): Promise<void> {
  // Installed first: SIGHUP's default action would kill a router signalled while starting.
  let router: LocalRouter | undefined;
  let supervisor: Supervisor | undefined;
  let driftRepair: { stop(): void } | undefined;
  let reloadPending = false;
  process.on("SIGHUP", () => {
    if (router === undefined) reloadPending = true;
    else void router.reload();
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
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
      log,
    });
    if (reloadPending) await router.reload();
    const processesDir = arg("--processes-dir");
    if (processesDir !== undefined) {
      const started = router;
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
