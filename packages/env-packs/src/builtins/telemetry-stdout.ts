import type { EnvPackHandler, TelemetryEvent } from "../types.js";

/** Options of the stdout telemetry handler. */
export interface StdoutTelemetryOptions {
  /** Where to write; defaults to `process.stdout`. */
  stream?: { write(chunk: string): unknown };
}

/** `greentic.telemetry.stdout`: one JSON line per event on stdout. */
export function stdoutTelemetryHandler(options: StdoutTelemetryOptions = {}): EnvPackHandler {
  return {
    slot: "telemetry",
    descriptorPath: "greentic.telemetry.stdout",
    supportedVersions: "^0.1.0",
    description: "Writes telemetry events as JSON lines to standard output.",
    telemetry: {
      async emit(ctx, event: TelemetryEvent) {
        const line = {
          at: event.at ?? new Date().toISOString(),
          env_id: ctx.envId,
          level: event.level ?? "info",
          name: event.name,
          ...(event.attributes === undefined ? {} : { attributes: event.attributes }),
        };
        (options.stream ?? process.stdout).write(`${JSON.stringify(line)}\n`);
      },
    },
  };
}
