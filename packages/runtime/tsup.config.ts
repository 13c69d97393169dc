import { packageConfig } from "../../tsup.config.base.ts";

// Two entries: the library, and the bin (shebang in its source). The I/O kit is inlined and
// splitting is off, so dist/bin.js is one self-contained file that needs Node built-ins only
// and runs as `node greentic-runtime.js` on a bare VM or in a minimal image. main is the
// runtime role on its own, for the single-file `op` (which runs it in its own process).
export default packageConfig(["src/index.ts", "src/bin.ts", "src/main.ts"], { noExternal: ["@greentic/io-kit"] });
