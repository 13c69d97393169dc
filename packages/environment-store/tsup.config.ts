import { packageConfig } from "../../tsup.config.base.ts";

// fast-read is a second entry for the CLI's read-only fast path: Node built-ins only.
export default packageConfig(["src/index.ts", "src/fast-read.ts"]);
