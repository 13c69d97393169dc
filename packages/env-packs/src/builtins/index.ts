import type { EnvPackHandler } from "../types.js";
import { localProcessDeployerHandler, type LocalProcessOptions } from "./local-process.js";
import { inMemorySessionsHandler, inMemoryStateHandler } from "./in-memory.js";
import { localRevocationHandler } from "./revocation-local.js";
import { devStoreSecretsHandler } from "./secrets-dev-store.js";
import { stdoutTelemetryHandler, type StdoutTelemetryOptions } from "./telemetry-stdout.js";

/** Options of the built-in handlers. */
export interface BuiltinOptions {
  localProcess?: LocalProcessOptions;
  telemetry?: StdoutTelemetryOptions;
}

/** Fresh instances of the six built-in handlers (the local defaults). */
export function builtinHandlers(options: BuiltinOptions = {}): EnvPackHandler[] {
  return [
    localProcessDeployerHandler(options.localProcess),
    devStoreSecretsHandler(),
    stdoutTelemetryHandler(options.telemetry),
    inMemorySessionsHandler(),
    inMemoryStateHandler(),
    localRevocationHandler(),
  ];
}
