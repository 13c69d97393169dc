// How oclif runs `op` when src/start.ts hands it the command line (help, an unknown command, the
// plugins' commands). oclif normally finds its plugins on disk at every start (each plugin's
// package.json and manifest, found by walking node_modules) and imports a command by its path.
// Here the bundle carries all of that: op's package.json and the bundled plugins (help,
// autocomplete) with their manifests are embedded at build time (scripts/embedded.ts), and each
// command is one lazy import, so oclif reads op's manifest and loads only the command it needs.
import { Config, type Interfaces, Plugin, flush, handle, run } from "@oclif/core";
import { OP_LOADERS, PJSON, PLUGINS } from "op-embedded:plugins";

type Loaders = Record<string, () => Promise<{ default?: unknown } & Record<string, unknown>>>;
type Manifest = Interfaces.Manifest;

/** A plugin whose manifest and commands come from the bundle instead of its directory. */
class EmbeddedPlugin extends Plugin {
  constructor(
    root: string,
    isRoot: boolean,
    pjson: Record<string, unknown> & { name: string },
    manifest: Manifest,
    private readonly loaders: Loaders,
  ) {
    // A "link" plugin without a parent keeps the root it is given instead of searching the disk
    // for its package.json.
    super({ root, isRoot, pjson: pjson as never, name: pjson.name, type: isRoot ? "core" : "link" });
    // load() takes the manifest from _manifest() (private in oclif's types), which would
    // otherwise read oclif.manifest.json.
    const self = this as unknown as { commandIDs: string[]; _manifest: () => Promise<Manifest> };
    self._manifest = async () => {
      self.commandIDs = Object.keys(manifest.commands);
      return manifest;
    };
  }

  // One command, imported when it runs (or its help is shown), never the whole table.
  override findCommand: Plugin["findCommand"] = (async (id: string, opts: { must?: boolean } = {}) => {
    const load = this.loaders[id];
    if (load === undefined) {
      if (opts.must) throw new Error(`command ${id} not found`);
      return undefined;
    }
    const module = await load();
    const cmd = (module.default ?? Object.values(module)[0]) as { id: string; plugin: unknown };
    cmd.id = id;
    cmd.plugin = this;
    return cmd;
  }) as Plugin["findCommand"];
}

/**
 * The oclif configuration of op rooted at `root` (the package directory, or the executable's
 * directory), with op's manifest `manifest` (read from oclif.manifest.json, or embedded).
 */
export async function loadConfig(root: string, manifest: Manifest): Promise<Config> {
  const plugins = new Map<string, EmbeddedPlugin>([
    [PJSON.name, new EmbeddedPlugin(root, true, PJSON, manifest, OP_LOADERS as Loaders)],
  ]);
  for (const p of PLUGINS)
    plugins.set(p.pjson.name, new EmbeddedPlugin(root, false, p.pjson, p.manifest as Manifest, p.loaders as Loaders));
  for (const p of plugins.values()) await p.load();
  return Config.load({ root, pjson: PJSON as never, plugins: plugins as never });
}

// oclif imports a hook by its file path, which the single-file executable cannot do (its import()
// knows only Node's own modules), so op's one hook is called from the bundle instead. It is set on
// the prototype because run() builds a new Config from the one it is given.
const runHook = Config.prototype.runHook;
Config.prototype.runHook = async function (this: Config, event: string, opts: object, ...rest: unknown[]) {
  if (event !== "command_not_found") return (runHook as (...a: unknown[]) => unknown).call(this, event, opts, ...rest);
  const { default: hook } = await import("./hooks/command-not-found.js");
  await (hook as (this: unknown, o: unknown) => Promise<unknown>).call({}, { ...opts, config: this });
  return { successes: [], failures: [] };
} as Config["runHook"];

/** Runs `argv` as oclif's `execute()` does: flush on success, `handle()` on any error. */
export async function runWithOclif(argv: string[], root: string, manifest: Manifest): Promise<void> {
  try {
    await run(argv, await loadConfig(root, manifest));
    await flush();
  } catch (error) {
    await handle(error instanceof Error ? error : new Error(String(error)));
  }
}
