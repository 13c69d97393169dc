import { packageConfig } from "../../tsup.config.base.ts";

// local-router-bin is not imported by the library: it is the script of the router process
// the local-process deployer spawns, bundled on its own with the I/O kit, deploy-spec's route
// rules and undici inlined, so that it needs Node built-ins only.
export const ROUTER_BANNER =
  'import { createRequire as __greenticCreateRequire } from "node:module"; const require = __greenticCreateRequire(import.meta.url);';

export default [
  // Split, so that roles.ts's dynamic import of the router stays a separate chunk: inlined, its
  // `node:http` import would be hoisted into the index, and importing node:http from ESM loads
  // undici, a large share of `op env show`'s start-up.
  packageConfig(
    {
      index: "src/index.ts",
      "local-router-main": "src/local-router-main.ts",
      roles: "src/roles.ts",
    },
    { splitting: true },
  ),
  // undici is CommonJS: inlined into this ESM file, its `require("node:…")` calls need a require.
  packageConfig(
    { "local-router-bin": "src/local-router-bin.ts" },
    {
      clean: false,
      noExternal: ["@greentic/io-kit", "@greentic/deploy-spec", "undici"],
      banner: { js: ROUTER_BANNER },
    },
  ),
];
