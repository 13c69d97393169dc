import { packageConfig } from "../../tsup.config.base.ts";

// local-router-bin is not imported by the library: it is the script of the router process
// the local-process deployer spawns, bundled on its own with the I/O kit and deploy-spec's route
// rules inlined, so that it needs Node built-ins only.
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
  packageConfig(
    { "local-router-bin": "src/local-router-bin.ts" },
    { clean: false, noExternal: ["@greentic/io-kit", "@greentic/deploy-spec"] },
  ),
];
