import type { EnvPackHandler } from "../types.js";
import { inMemorySessionsHandler, inMemoryStateHandler } from "./in-memory.js";
import { localRevocationHandler } from "./revocation-local.js";
import { devStoreSecretsHandler } from "./secrets-dev-store.js";
import { stdoutTelemetryHandler, type StdoutTelemetryOptions } from "./telemetry-stdout.js";

/** Options of the built-in handlers. */
export interface BuiltinOptions {
  telemetry?: StdoutTelemetryOptions;
}

/**
 * Fresh instances of the five small built-in handlers. The built-in deployers
 * (`greentic.deployer.local-process`, `greentic.deployer.single-vm`) live in their own packages
 * and are registered lazily with `EnvPackRegistry.registerLazy` by whoever composes them
 * (`@greentic/operations`).
 */
export function builtinHandlers(options: BuiltinOptions = {}): EnvPackHandler[] {
  return [
    devStoreSecretsHandler(),
    stdoutTelemetryHandler(options.telemetry),
    inMemorySessionsHandler(),
    inMemoryStateHandler(),
    localRevocationHandler(),
  ];
}
