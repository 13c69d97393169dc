import { packageConfig } from "../../tsup.config.base.ts";

// `errors` is a light entry (no zod, no yaml) for callers that only throw or recognise the
// error family. Splitting keeps one copy of each module, so `GreenticError` is the same class
// whichever entry it is imported from.
export default packageConfig({ index: "src/index.ts", errors: "src/errors.ts" }, { splitting: true });
