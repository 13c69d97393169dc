export { LocalFsStore, defaultStoreRoot, type LocalFsStoreOptions } from "./local-fs-store.js";
export { authorizeLocalOwner, localActor } from "./authorize.js";
export { assertSafeEnvId, unsafeSegmentReason } from "./env-id.js";
export type { LockRecord } from "./lock.js";
export type {
  AuditEventRecord,
  AuditQuery,
  AuditVerification,
  AuthorizationRequest,
  Authorizer,
  BackupInfo,
  EnvironmentSnapshot,
  EnvironmentStore,
  EnvironmentSummary,
  LoadedEnvironment,
  LocalStoreAdministration,
  MigrateDevApplied,
  MigrateDevCheck,
  MigrateStateApplied,
  MigrateStateCheck,
  MigrationFinding,
  MutationCheck,
  Precondition,
  TransactContext,
  TransactOptions,
  TransactResult,
  Transform,
  TransformOutcome,
} from "./types.js";
