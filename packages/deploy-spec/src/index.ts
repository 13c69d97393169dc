// The public surface but the DeploymentSpec text parser, which loads yaml (more costly than all
// the schemas here together) and lives in `/deployment-spec-text`. Callers that need only a
// part import a light entry instead (`/errors`, `/documents`, `/answers`, `/schemas`).
export * from "./public/documents.js";
export * from "./public/answers.js";
export * from "./public/schemas.js";
