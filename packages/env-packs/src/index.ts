export {
  EnvPackRegistry,
  registryError,
  type KindOrDescriptor,
  type LazyHandler,
  type RegisterOptions,
  type RegisteredHandlerInfo,
  type ResolvedHandler,
} from "./registry.js";
export { DefaultEnvPackRegistry, createDefaultRegistry, type DefaultRegistryOptions } from "./default-registry.js";
export {
  loadPlugin,
  pluginsFromEnv,
  type EnvPackPluginModule,
  type PluginLoadOptions,
  type PluginLoadResult,
} from "./plugins.js";
export { builtinHandlers, type BuiltinOptions } from "./builtins/index.js";
export { devStoreSecretsHandler } from "./builtins/secrets-dev-store.js";
export { stdoutTelemetryHandler, type StdoutTelemetryOptions } from "./builtins/telemetry-stdout.js";
export { inMemoryKeyValueStore, inMemorySessionsHandler, inMemoryStateHandler } from "./builtins/in-memory.js";
export { localRevocationHandler } from "./builtins/revocation-local.js";
export { checkTrafficSplit, toAppliedRuntimeConfig } from "./traffic.js";
export { readJsonDocument, readJsonFile, writeJsonFile } from "./fs-utils.js";
export { answersJsonSchema, runPreflight, runPreflightCheck, type PreflightReport } from "./preflight.js";
export {
  doctorEnvironment,
  type DoctorEnvironmentInput,
  type DoctorLoadError,
  type DoctorOptions,
  type DoctorReport,
  type KindProblem,
  type StaleRevision,
} from "./doctor.js";
export type {
  AppliedRuntimeConfig,
  AppliedRuntimeRevision,
  ApplyTrafficSplitRequest,
  CredentialRequirement,
  CredentialsValidation,
  Deployer,
  DeployerCredentials,
  DeployerRouterStatus,
  RevisionMetricsReport,
  RolloutRunnerRequest,
  DestroyOutcome,
  DrainOptions,
  EnvPackHandler,
  HandlerContext,
  HandlerLogEvent,
  HealthGateFailure,
  HealthGateOutcome,
  KeyValueStore,
  PreflightCheck,
  PreflightResult,
  RegistryErrorCode,
  RevealOptions,
  RevisionRef,
  RevisionRuntimeStatus,
  DeployerLogLine,
  ReadLogsRequest,
  ReadLogsResult,
  StatusOptions,
  RevocationEntry,
  RevocationList,
  RotateOptions,
  SecretsStore,
  SplitEntry,
  StageOutcome,
  StageRequest,
  TelemetryEvent,
  TelemetrySink,
  TrafficSplitInput,
  WarmRequest,
} from "./types.js";
