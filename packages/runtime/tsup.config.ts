import { packageConfig } from "../../tsup.config.base.ts";

// Two entries: the library, and the bin (shebang in its source). The bin imports Node built-ins
// only and splitting is off, so dist/bin.js is one self-contained file that runs as
// `node greentic-runtime.js` on a bare VM or in a minimal image.
export default packageConfig(["src/index.ts", "src/bin.ts"]);
