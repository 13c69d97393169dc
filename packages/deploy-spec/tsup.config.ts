import { packageConfig } from "../../tsup.config.base.ts";

// Light entries beside the index (see src/index.ts): `errors` (no zod, no yaml), `documents`,
// `answers`, `schemas`, `deployment-spec-text` (the only one that loads yaml) and `routes` (route
// binding rules, no zod: the local router process and the single-VM proxy share them). Splitting keeps
// one copy of each module, so `GreenticError` is the same class whichever entry it comes from.
export default packageConfig(
  {
    index: "src/index.ts",
    errors: "src/errors.ts",
    documents: "src/public/documents.ts",
    answers: "src/public/answers.ts",
    schemas: "src/public/schemas.ts",
    "deployment-spec-text": "src/deployment-spec-text.ts",
    routes: "src/engine/route-bindings.ts",
  },
  { splitting: true },
);
