import type { EnvPackHandler, HandlerContext, KeyValueStore } from "../types.js";

/** A key-value store kept in this process's memory, one map per environment. */
export function inMemoryKeyValueStore(): KeyValueStore {
  const envs = new Map<string, Map<string, unknown>>();
  const mapFor = (ctx: HandlerContext) => {
    let map = envs.get(ctx.envId);
    if (map === undefined) envs.set(ctx.envId, (map = new Map()));
    return map;
  };
  return {
    async get(ctx, key) {
      const value = mapFor(ctx).get(key);
      return value === undefined ? undefined : structuredClone(value);
    },
    async set(ctx, key, value) {
      mapFor(ctx).set(key, structuredClone(value));
    },
    async delete(ctx, key) {
      return mapFor(ctx).delete(key);
    },
    async list(ctx, prefix = "") {
      return [...mapFor(ctx).keys()].filter((key) => key.startsWith(prefix)).sort();
    },
  };
}

/** `greentic.sessions.in-memory`: sessions in process memory (gone when the process exits). */
export function inMemorySessionsHandler(): EnvPackHandler {
  return {
    slot: "sessions",
    descriptorPath: "greentic.sessions.in-memory",
    supportedVersions: "^0.1.0",
    description:
      "Sessions kept in the memory of the current process; nothing outlives it (a CLI run, a test). For tests and dev loops only.",
    sessions: inMemoryKeyValueStore(),
  };
}

/** `greentic.state.in-memory`: state in process memory (gone when the process exits). */
export function inMemoryStateHandler(): EnvPackHandler {
  return {
    slot: "state",
    descriptorPath: "greentic.state.in-memory",
    supportedVersions: "^0.1.0",
    description:
      "State kept in the memory of the current process; nothing outlives it (a CLI run, a test). For tests and dev loops only.",
    state: inMemoryKeyValueStore(),
  };
}
