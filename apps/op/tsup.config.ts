import { execFileSync } from "node:child_process";
import { packageConfig } from "../../tsup.config.base.ts";
import { cjsDynamicImports, httpWithoutFacade, opEmbedded } from "./scripts/embedded.ts";

/** The commit `op version` reports: the checkout's HEAD (with -dirty), or "unknown". */
function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim();
    return dirty === "" ? head : `${head}-dirty`;
  } catch {
    return "unknown";
  }
}

// One bundle with everything op runs inside it (oclif, the workspace libraries, zod, yaml...), so
// that a start resolves and reads a handful of files instead of several hundred. Splitting keeps
// what only some commands need (each command, the operations library, the store, the schemas)
// in chunks imported on first use. One copy of each library: error classes compare by identity.
export default packageConfig(
  {
    start: "src/start.ts",
    main: "src/main.ts",
    "command-table": "src/command-table.ts",
    "hooks/command-not-found": "src/hooks/command-not-found.ts",
  },
  {
    splitting: true,
    noExternal: [/.*/],
    esbuildPlugins: [opEmbedded(import.meta.dirname), httpWithoutFacade(), cjsDynamicImports()],
    // Workspace packages from their sources (as in the tests and the release build), so chunks
    // follow the real module graph rather than each package's own bundle.
    esbuildOptions(options) {
      options.conditions = ["@greentic/source"];
      // A package's ES module build where it has one (e.g. @peculiar/x509), its CommonJS one
      // otherwise: an ES module keeps its named exports when it is imported lazily.
      options.mainFields = ["module", "main"];
    },
    // Bundled CommonJS dependencies (oclif, semver...) call require() for Node's modules.
    banner: {
      js: 'import { createRequire as __opCreateRequire } from "node:module"; const require = __opCreateRequire(import.meta.url);',
    },
    define: { __OP_COMMIT__: JSON.stringify(commit()) },
  },
);
