// The build-time half of src/main.ts: an esbuild plugin (used by tsup for dist/ and by
// scripts/release for the single executable) that turns what oclif would otherwise look up on
// disk at every start into modules of the bundle:
//   op-embedded:commands  COMMANDS, every command class (the "explicit" discovery strategy; only
//                         `oclif manifest` imports it), and LOADERS, one lazy import per command id
//   op-embedded:plugins   PJSON of op and the bundled plugins (help, autocomplete) with their
//                         manifests and lazy command loaders
// so that a start reads one manifest and imports only the command it runs.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Plugin } from "esbuild";

/** The oclif plugins op ships, in the order oclif lists them. */
export const BUNDLED_PLUGINS = ["@oclif/plugin-help", "@oclif/plugin-autocomplete"] as const;

/** `env/show.ts` -> `env:show`: oclif's id of a command file under src/commands. */
export function commandFiles(opDir: string): Array<{ id: string; file: string }> {
  const dir = join(opDir, "src/commands");
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .sort()
    .map((f) => ({ id: f.slice(0, -3).split("/").join(":"), file: join(dir, f) }));
}

type Pjson = Record<string, unknown> & { name: string; version: string; oclif: Record<string, unknown> };

/** A plugin's package.json as oclif reads it, with its commands from the bundle, not a directory. */
function embeddedPjson(p: Pjson): Record<string, unknown> {
  return {
    ...p,
    oclif: {
      ...p.oclif,
      plugins: [],
      commands: { strategy: "explicit", target: "./embedded", identifier: "COMMANDS" },
    },
  };
}

/**
 * `import … from "node:http"` without Node's ESM facade of the module: building the facade reads
 * every export, and node:http's lazy `WebSocket`/`CloseEvent`/`MessageEvent` getters then load
 * the whole of undici (about a third of a read verb's start-up in a profile) although op never
 * uses them. The bundle takes the module through require (see the banner in tsup.config.ts)
 * and re-exports its plain values; the lazy getters are left out.
 */
export function httpWithoutFacade(): Plugin {
  const http = createRequire(import.meta.url)("node:http") as Record<string, unknown>;
  const names = Object.getOwnPropertyNames(http).filter(
    (k) => /^[A-Za-z_$][\w$]*$/.test(k) && Object.getOwnPropertyDescriptor(http, k)?.get === undefined,
  );
  return {
    name: "op-http-without-facade",
    setup(b) {
      b.onResolve({ filter: /^(node:)?http$/ }, (args) =>
        args.kind === "import-statement" || args.kind === "dynamic-import"
          ? { path: "node:http", namespace: "op-http" }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: "op-http" }, () => ({
        contents: [
          'const http = require("node:http");',
          "export default http;",
          `export const { ${names.join(", ")} } = http;`,
        ].join("\n"),
        loader: "js",
      }));
    },
  };
}

/**
 * `await import("yaml")` of a CommonJS package keeps its named exports. With code splitting,
 * esbuild gives a lazily imported CommonJS module a chunk that exports `default` only, where
 * Node would also offer the named exports (`const { stringify } = await import("yaml")`). The
 * import goes through a small ESM module instead that re-exports the names the package has.
 */
export function cjsDynamicImports(): Plugin {
  // A module with `export` statements is an ES module whatever its package says (e.g. the
  // "module" build of a package without "type": "module").
  const isCommonJs = (file: string): boolean =>
    !file.endsWith(".mjs") &&
    !/^\s*export\s*(\{|\*|default\b|const\b|function\b|class\b|let\b|var\b)/m.test(readFileSync(file, "utf8"));
  return {
    name: "op-cjs-dynamic-imports",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.kind !== "dynamic-import" || args.namespace !== "file" || args.path.startsWith("node:"))
          return undefined;
        const r = await b.resolve(args.path, {
          kind: "import-statement",
          resolveDir: args.resolveDir,
          importer: args.importer,
        });
        if (r.errors.length > 0 || r.external || r.namespace !== "file" || !isCommonJs(r.path)) return undefined;
        // The names are the package's own exports, read by loading it here once.
        try {
          const exported = createRequire(r.path)(r.path) as Record<string, unknown>;
          const names = Object.keys(exported).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== "default");
          return { path: r.path, namespace: "op-cjs-named", pluginData: names };
        } catch (error) {
          throw new Error(`${args.path} (${r.path}), imported lazily, cannot be loaded to list its exports: ${error}`);
        }
      });
      b.onLoad({ filter: /.*/, namespace: "op-cjs-named" }, (args) => {
        const names = args.pluginData as string[];
        return {
          contents: [
            `import m from ${JSON.stringify(args.path)};`,
            "export default m;",
            names.length > 0 ? `export const { ${names.join(", ")} } = m;` : "",
          ].join("\n"),
          loader: "js",
          resolveDir: dirname(args.path),
        };
      });
    },
  };
}

export function opEmbedded(opDir: string): Plugin {
  const req = createRequire(join(opDir, "package.json"));
  return {
    name: "op-embedded",
    setup(b) {
      b.onResolve({ filter: /^op-embedded:/ }, (args) => ({ path: args.path, namespace: "op-embedded" }));
      b.onLoad({ filter: /.*/, namespace: "op-embedded" }, (args) => {
        if (args.path === "op-embedded:commands") {
          const files = commandFiles(opDir);
          const lines = files.map(({ file }, i) => `import * as c${i} from ${JSON.stringify(file)};`);
          lines.push(
            `export const COMMANDS = {${files.map(({ id }, i) => `${JSON.stringify(id)}: c${i}.default`).join(",\n")}};`,
          );
          return { contents: lines.join("\n"), loader: "js", resolveDir: opDir };
        }
        if (args.path === "op-embedded:plugins") {
          const pjson = JSON.parse(readFileSync(join(opDir, "package.json"), "utf8")) as Pjson;
          const opLoaders = commandFiles(opDir).map(
            ({ id, file }) => `${JSON.stringify(id)}: () => import(${JSON.stringify(file)})`,
          );
          const plugins = BUNDLED_PLUGINS.map((name) => {
            // The plugins export only their entry (lib/index.js): the package is two levels up.
            const dir = dirname(dirname(req.resolve(name)));
            const p = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Pjson;
            const manifest = JSON.parse(readFileSync(join(dir, "oclif.manifest.json"), "utf8")) as {
              commands: Record<string, { relativePath: string[] }>;
            };
            const loaders = Object.entries(manifest.commands).map(
              ([id, c]) => `${JSON.stringify(id)}: () => import(${JSON.stringify(join(dir, ...c.relativePath))})`,
            );
            return `{ pjson: ${JSON.stringify(embeddedPjson(p))}, manifest: ${JSON.stringify(manifest)}, loaders: {${loaders.join(",\n")}} }`;
          });
          return {
            contents: [
              `export const PJSON = ${JSON.stringify(embeddedPjson(pjson))};`,
              `export const OP_LOADERS = {${opLoaders.join(",\n")}};`,
              `export const PLUGINS = [${plugins.join(",\n")}];`,
            ].join("\n"),
            loader: "js",
            resolveDir: opDir,
          };
        }
        return undefined;
      });
    },
  };
}
