export { PostgresStore, LOCK_CLASS, type PostgresStoreOptions } from "./store.js";
export { parseStoreUrl, redactUrl, type PostgresLocation } from "./url.js";
export { MIGRATIONS, OPERATOR_ROLE, SCHEMA_VERSION, type MigrateSchemaResult, type Migration } from "./schema.js";
export { storeError } from "./errors.js";
