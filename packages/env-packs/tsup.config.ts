import { packageConfig } from "../../tsup.config.base.ts";

// local-router-bin is not imported by the library: it is the script of the router process
// the local-process deployer spawns, bundled on its own (Node built-ins only).
export default packageConfig(["src/index.ts", "src/conformance.ts", "src/local-router-bin.ts"]);
