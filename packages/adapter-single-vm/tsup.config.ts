import { packageConfig } from "../../tsup.config.base.ts";

// traffic-repair-main is not imported by the library: it is the script the VM's traffic-repair
// unit runs (traffic-repair.ts).
export default packageConfig({ index: "src/index.ts", "traffic-repair-main": "src/traffic-repair-main.ts" });
