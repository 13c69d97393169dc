// The public surface but the DeploymentSpec text parser, which loads yaml (more costly than all
// the schemas here together) and lives in `/deployment-spec-text`. Callers that need only a
// part import a light entry instead (`/errors`, `/documents`, `/answers`, `/schemas`).
export * from "./public/documents.js";
export * from "./public/answers.js";
export * from "./public/schemas.js";
// The DeploymentSpec schema (single-VM deployments) is in no light entry: the read verbs never
// build it.
export {
  DEPLOYMENT_SPEC_DEFAULTS,
  DeploymentSpecSchema,
  deploymentMode,
  parseAdminBind,
  validateDeploymentSpec,
  type DeploymentMode,
  type DeploymentSpec,
  type DeploymentSpecInput,
  type DeploymentSpecParseOptions,
  type DeploymentSpecResult,
} from "./deployment-spec.js";
