import { builtinHandlers, type BuiltinOptions } from "./builtins/index.js";
import { loadPlugin, pluginsFromEnv, type PluginLoadOptions, type PluginLoadResult } from "./plugins.js";
import { EnvPackRegistry } from "./registry.js";

/** Options of `createDefaultRegistry`. */
export interface DefaultRegistryOptions extends BuiltinOptions, PluginLoadOptions {
  /** Plugin packages (names or paths); default: `GREENTIC_ENV_PACK_PLUGINS`. */
  plugins?: readonly string[];
}

/** A registry with the built-ins, plus plugins that are imported on demand. */
export class DefaultEnvPackRegistry extends EnvPackRegistry {
  readonly plugins: readonly string[];
  readonly #loadOptions: PluginLoadOptions;
  readonly #results = new Map<string, Promise<PluginLoadResult>>();

  constructor(options: DefaultRegistryOptions = {}) {
    super();
    for (const handler of builtinHandlers(options)) this.register(handler, { source: "builtin" });
    this.plugins = [...new Set(options.plugins ?? pluginsFromEnv())];
    this.#loadOptions = options.resolveFrom === undefined ? {} : { resolveFrom: options.resolveFrom };
    this.setFallback(async (path) => {
      const results = await this.loadPlugins();
      // The path is still unknown: a plugin that failed to load is the likely culprit.
      const failed = results.find((result) => !result.ok);
      if (!this.has(path) && failed !== undefined && !failed.ok) throw failed.error;
    });
  }

  /** Imports every configured plugin once, in order (later calls reuse the outcome); never throws. */
  async loadPlugins(): Promise<PluginLoadResult[]> {
    const out: PluginLoadResult[] = [];
    for (const name of this.plugins) {
      let result = this.#results.get(name);
      if (result === undefined) this.#results.set(name, (result = loadPlugin(this, name, this.#loadOptions)));
      out.push(await result);
    }
    return out;
  }
}

/** The registry the CLI uses: six built-ins and the configured plugins (loaded on demand). */
export function createDefaultRegistry(options: DefaultRegistryOptions = {}): DefaultEnvPackRegistry {
  return new DefaultEnvPackRegistry(options);
}
