import { packageConfig } from "../../tsup.config.base.ts";

// local-router-bin is not imported by the library: it is the script of the router process
// the local-process deployer spawns, bundled on its own with the I/O kit inlined, so that it
// needs Node built-ins only. local-router-status is the light entry `op env show` reads the
// router with.
export default [
  packageConfig({
    index: "src/index.ts",
    "local-router-status": "src/local-router-status.ts",
    "local-router-main": "src/local-router-main.ts",
    roles: "src/roles.ts",
  }),
  packageConfig({ "local-router-bin": "src/local-router-bin.ts" }, { clean: false, noExternal: ["@greentic/io-kit"] }),
];
