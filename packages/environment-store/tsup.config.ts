import { packageConfig } from "../../tsup.config.base.ts";

// contract holds the medium-free rules other backends share.
export default packageConfig(["src/index.ts", "src/contract.ts"]);
