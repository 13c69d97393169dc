import { existsSync } from "node:fs";
import { readFile, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { registryError, type EnvPackRegistry } from "./registry.js";
import type { EnvPackHandler } from "./types.js";

/** What a plugin module exports: `envPackHandlers`, or a `register(registry)` function, or both. */
export interface EnvPackPluginModule {
  envPackHandlers?: readonly EnvPackHandler[];
  register?(registry: Pick<EnvPackRegistry, "register">): void | Promise<void>;
}

/** Options of plugin loading. */
export interface PluginLoadOptions {
  /** Directory whose `node_modules` (and ancestors') hold the plugins. Default: `process.cwd()`. */
  resolveFrom?: string;
}

/** Outcome of loading one plugin. */
export type PluginLoadResult =
  | { package: string; ok: true; descriptor_paths: string[] }
  | { package: string; ok: false; error: GreenticError };

/** Plugin names from `GREENTIC_ENV_PACK_PLUGINS` (comma-separated, blanks ignored). */
export function pluginsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.GREENTIC_ENV_PACK_PLUGINS ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
}

function missing(name: string, detail: string, cause?: unknown): GreenticError {
  return registryError(
    "not-found",
    "plugin-missing",
    `env-pack plugin ${JSON.stringify(name)} cannot be found: ${detail}`,
    `install it (pnpm add ${name}) where the CLI runs, or remove it from GREENTIC_ENV_PACK_PLUGINS`,
    { package: name },
    cause,
  );
}

function broken(name: string, detail: string, cause?: unknown): GreenticError {
  return registryError(
    "internal",
    "plugin-broken",
    `env-pack plugin ${JSON.stringify(name)} failed to load: ${detail}`,
    "fix or upgrade the plugin (it must export `envPackHandlers` or `register(registry)`), or remove it from GREENTIC_ENV_PACK_PLUGINS",
    { package: name },
    cause,
  );
}

/** Picks the ESM entry of a package directory from its package.json. */
async function packageEntry(name: string, dir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as {
    exports?: unknown;
    main?: string;
  };
  let target: unknown = pkg.exports;
  if (typeof target === "object" && target !== null && "." in target) target = (target as Record<string, unknown>)["."];
  for (let depth = 0; typeof target === "object" && target !== null && depth < 5; depth++) {
    const conditions = target as Record<string, unknown>;
    target = conditions.import ?? conditions.node ?? conditions.default;
  }
  const entry = typeof target === "string" ? target : (pkg.main ?? "index.js");
  const file = resolve(dir, entry);
  if (!existsSync(file)) throw broken(name, `its entry ${file} does not exist (is the plugin built?)`);
  return file;
}

/** Finds a plugin: a path to a package directory or file, or a package name in node_modules. */
async function locate(name: string, from: string): Promise<string> {
  if (isAbsolute(name) || name.startsWith("./") || name.startsWith("../")) {
    const path = resolve(from, name);
    if (!existsSync(path)) throw missing(name, `${path} does not exist`);
    return existsSync(join(path, "package.json")) ? packageEntry(name, path) : path;
  }
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return packageEntry(name, await realpath(candidate));
    if (dirname(dir) === dir) break;
  }
  throw missing(name, `no node_modules/${name} in ${from} or its parents`);
}

/**
 * Imports one plugin and registers its handlers. Never throws: failures come back as data
 * carrying a GreenticError that names the package.
 */
export async function loadPlugin(
  registry: EnvPackRegistry,
  name: string,
  options: PluginLoadOptions = {},
): Promise<PluginLoadResult> {
  try {
    const file = await locate(name, options.resolveFrom ?? process.cwd());
    let module: EnvPackPluginModule;
    try {
      module = (await import(pathToFileURL(file).href)) as EnvPackPluginModule;
    } catch (error) {
      throw broken(name, (error as Error).message, error);
    }
    const before = new Set(registry.list().map((info) => info.descriptor_path));
    if (Array.isArray(module.envPackHandlers)) {
      for (const handler of module.envPackHandlers) registry.register(handler, { source: name });
    } else if (typeof module.register === "function") {
      await module.register({ register: (handler) => registry.register(handler, { source: name }) });
    } else {
      throw broken(name, "it exports neither `envPackHandlers` (an array) nor `register(registry)`");
    }
    const added = registry
      .list()
      .map((info) => info.descriptor_path)
      .filter((path) => !before.has(path));
    return { package: name, ok: true, descriptor_paths: added };
  } catch (error) {
    const wrapped =
      error instanceof GreenticError && error.details?.package === name
        ? error
        : broken(name, (error as Error).message, error);
    return { package: name, ok: false, error: wrapped };
  }
}
