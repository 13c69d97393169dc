export {
  createOperations,
  openSharedStore,
  type OperationsOptions,
  type SharedStoreOptions,
} from "./operations.js";
export { storeCopy, storeMigrateSchema, type StoreCopyResult, type StoreMigrateSchemaResult } from "./store-admin.js";
export type { CommitInfo, Mutated, MutationOptions, ProgressEvent } from "./types.js";
export {
  createOperationsRegistry,
  parseAnswers,
  type OperationsContext,
  type OperationsRegistryOptions,
  type OperationsStore,
} from "./context.js";
export {
  envBackups,
  envCreate,
  envDestroy,
  envDoctor,
  envForceUnlock,
  envInit,
  envList,
  envLockShow,
  envMigrateDev,
  envMigrateState,
  envRestore,
  envShow,
  envUpdate,
  type EnvDestroyOptions,
  type EnvDestroyResult,
  type EnvDoctorReport,
  type EnvListEntry,
  type EnvLockResult,
  type EnvShowResult,
} from "./env.js";
export {
  envPacksAdd,
  envPacksList,
  envPacksRemove,
  envPacksRollback,
  envPacksUpdate,
  type EnvPackListEntry,
  type EnvPackListResult,
  type EnvPackMutationResult,
} from "./env-packs.js";
export {
  bundlesAdd,
  bundlesList,
  bundlesRemove,
  bundlesShow,
  bundlesUpdate,
  type BundleShowResult,
  type BundlesListResult,
} from "./bundles.js";
export {
  revisionsArchive,
  revisionsDrain,
  revisionsList,
  revisionsShow,
  revisionsStage,
  revisionsTag,
  revisionsUntag,
  revisionsWarm,
  type RevisionShowResult,
  type RevisionsListResult,
  type StageResult,
  type TagResult,
  type TrafficReference,
  type WarmResult,
} from "./revisions.js";
export {
  DEFAULT_KEEP_REVISIONS,
  revisionsPrune,
  type KeptRevision,
  type PruneResult,
  type PrunedRevision,
} from "./prune.js";
export type { CheckedBundle } from "./bundle-check.js";
export {
  trafficRollback,
  trafficSet,
  trafficShow,
  type TrafficApplied,
  type TrafficRollbackResult,
  type TrafficSetResult,
  type TrafficShowResult,
} from "./traffic.js";
export type { EnvRouterInfo } from "./router.js";
export { configSet, configShow, type ConfigShowResult } from "./config.js";
export {
  secretsDelete,
  secretsGet,
  secretsList,
  secretsPut,
  secretsRotate,
  type SecretGetResult,
  type SecretWriteResult,
  type SecretsListResult,
} from "./secrets.js";
export {
  credentialsRequirements,
  credentialsValidate,
  type CredentialsRequirementsResult,
  type CredentialsValidateResult,
} from "./credentials.js";
export { auditList, auditVerify, parseSince, type AuditListResult, type AuditVerifyResult } from "./audit.js";
export { deploy, type DeployResult } from "./deploy.js";
export {
  MIN_PREFIX,
  REVISION_REF_WORDS,
  defaultDeployment,
  parseRevisionRef,
  resolveDeploymentRef,
  resolveReferences,
  resolveRevisionRef,
  type ReferenceRequest,
  type ResolvedReferences,
  type RevisionRefQuery,
} from "./refs.js";
export {
  reconcileTraffic,
  status,
  trafficDrift,
  type SplitWeight,
  type StatusDeployment,
  type StatusResult,
  type StatusRevision,
  type TrafficDrift,
} from "./status.js";
export {
  followEnvLogs,
  followLogs,
  logSources,
  logs,
  type LogLine,
  type LogSource,
  type LogsOptions,
  type LogsResult,
} from "./logs.js";
export {
  breachOf,
  launchRolloutRunner,
  listRollouts,
  MIN_REQUESTS,
  observeCandidate,
  parseDuration,
  parseRate,
  parseSteps,
  readRollout,
  rolloutControl,
  rolloutRun,
  rolloutStart,
  rolloutStatus,
  ROLLOUT_SCHEMA,
  UNREADY_CHECKS,
  type RolloutControlResult,
  type RolloutFigures,
  type RolloutRecord,
  type RolloutRunOptions,
  type RolloutStartInput,
  type RolloutStartResult,
  type RolloutStatus,
} from "./rollout.js";
