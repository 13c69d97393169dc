// The runtime process: configuration from the environment, the server, and its signals. Run by
// bin.ts (`node dist/bin.js`, the greentic-runtime executable) and by the single-file `op`,
// which runs this role itself so that it can deploy locally without node or node_modules.
import { loadRuntimeConfig } from "./config.js";
import { RuntimeFailure } from "./failure.js";
import { createLogger, type Logger } from "./log.js";
import { failureFields, startRuntimeServer, type RuntimeHandle } from "./server.js";

/** Starts the runtime and keeps it running until SIGTERM/SIGINT (exit 0) or a failure (exit 1 or 2). */
export function runRuntime(): void {
  const log = createLogger();
  process.on("uncaughtException", (error) => {
    log.error("uncaught exception", { error: error.message, stack: error.stack });
    process.exit(1);
  });
  void main(log);
}

async function main(log: Logger): Promise<void> {
  const loaded = loadRuntimeConfig(process.env);
  if (!loaded.ok) {
    const [first] = loaded.issues;
    log.error(`invalid configuration: ${first!.message}`, {
      variable: first!.variable,
      value: first!.value,
      hint: first!.hint,
      issues: loaded.issues,
    });
    process.exit(2);
  }
  const config = loaded.config;
  let handle: RuntimeHandle;
  try {
    handle = await startRuntimeServer(config);
  } catch (error) {
    log.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`, failureFields(error));
    process.exit(error instanceof RuntimeFailure && error.code === "invalid-config" ? 2 : 1);
  }

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info("signal received, draining", { signal, timeout_ms: config.drainTimeoutMs });
    // A backstop in case closing itself stalls: the bound is the drain timeout plus a grace second.
    setTimeout(() => {
      log.warn("forced exit after the drain bound", { signal });
      process.exit(0);
    }, config.drainTimeoutMs + 1000).unref();
    await handle.drain();
    await handle.close();
    process.exit(0);
  };
  process.on("SIGTERM", (s) => void stop(s));
  process.on("SIGINT", (s) => void stop(s));
  // After rotateAdminCertificates: pick up the new files without dropping the public listener.
  process.on("SIGHUP", () => {
    try {
      handle.reloadCertificates();
    } catch (error) {
      log.error("admin certificate reload failed; keeping the previous ones", failureFields(error));
    }
  });

  handle.ready.catch(async () => {
    await handle.close();
    process.exit(1);
  });
}
