// `@greentic/deploy-spec/schemas`: JSON Schemas generated from the zod schemas (`--schema`,
// the committed files).
export { DOCUMENT_SCHEMAS, JSON_SCHEMA_NAMES, answersSchemaName, jsonSchemaFor } from "../json-schema.js";
