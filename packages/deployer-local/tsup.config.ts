import { packageConfig } from "../../tsup.config.base.ts";

// local-router-bin is not imported by the library: it is the script of the router process
// the local-process deployer spawns, bundled on its own with the I/O kit inlined, so that it
// needs Node built-ins only.
export default [
  packageConfig({
    index: "src/index.ts",
    "local-router-main": "src/local-router-main.ts",
    roles: "src/roles.ts",
  }),
  packageConfig({ "local-router-bin": "src/local-router-bin.ts" }, { clean: false, noExternal: ["@greentic/io-kit"] }),
];
