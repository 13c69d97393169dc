import { defineConfig, type Options } from "tsup";

/**
 * Shared build for every package: ESM only, Node 22, JS from esbuild. Declarations come from
 * `tsc --emitDeclarationOnly` (see each package's `build` script) because the native
 * TypeScript 7 compiler has no JS API for tsup's dts step.
 */
export function packageConfig(entry: Options["entry"] = ["src/index.ts"], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ["esm"],
    target: "node22",
    platform: "node",
    dts: false,
    clean: true,
    sourcemap: false,
    splitting: false,
    // Keep `node:` prefixes: `node:sea` exists only with its prefix, and stripping it gives an
    // import of a package named "sea" that Node cannot find.
    removeNodeProtocol: false,
    ...extra,
  });
}
