export {
  applyDeployment,
  destroyDeployment,
  rollbackDeployment,
  type ApplyOptions,
  type ApplyResult,
  type DestroyOptions,
  type DestroyResult,
} from "./apply.js";
export {
  createHostExecutor,
  hostPath,
  type CommandResult,
  type HostExecutor,
  type HostExecutorOptions,
  type RecordedCommand,
  type RunOptions,
} from "./executor.js";
export { planDeployment } from "./plan-deployment.js";
export {
  loadPlan,
  PLAN_EXIT_CODES,
  PLAN_SCHEMA,
  savePlan,
  STATE_SCHEMA,
  summarizePlan,
  type ActionResource,
  type ActionVerb,
  type PlanAction,
  type PlanOptions,
  type SingleVmPlan,
  type SingleVmState,
} from "./plan.js";
export {
  containerServiceUnit,
  layoutFor,
  mountUnit,
  nativeServiceUnit,
  quadletContainer,
  renderDesiredState,
  renderEnvFile,
  type ContainerOptions,
  type DesiredState,
  type Layout,
  type RenderContext,
} from "./render.js";
export { loadDeploymentSpec, loadSpecOrPlan, parseDeploymentSpecText } from "./load.js";
export { deploymentStatus, type DeploymentStatus } from "./status.js";
export { execCommandLine, renderUnitFile, systemdEscapePath, type UnitFile, type UnitSection } from "./unit-file.js";
export {
  renderCloudInit,
  type CloudInitArtifact,
  type CloudInitArtifacts,
  type CloudInitOptions,
} from "./cloud-init.js";
export { renderInitSpec, type InitSpecOptions } from "./init-spec.js";
export { preflight, type PreflightCheck, type PreflightResult } from "./preflight.js";
export {
  singleVmDeployerHandler,
  validateVmSpec,
  SingleVmAnswersSchema,
  type SingleVmAnswers,
  type SingleVmHandlerOptions,
} from "./env-pack.js";
export {
  applyCanary,
  archiveCanaryRevision,
  canaryMetrics,
  canaryStatus,
  canaryTraffic,
  describeSplit,
  destroyCanary,
  drainCanaryRevision,
  isCanary,
  planCanary,
  readCanaryRecord,
  revisionLayout,
  rollbackCanary,
  setCanarySplit,
  warmCanaryRevision,
  type CanaryApplyOptions,
  type CanaryApplyResult,
  type CanaryRecord,
  type CanaryRevision,
  type CanaryRevisionStatus,
  type CanaryStatus,
  type CanaryTraffic,
  type RevisionMetrics,
} from "./canary.js";
export {
  backendCounters,
  liveSplit,
  parseSplitMap,
  percentile,
  proxyLayout,
  pushSplit,
  renderProxyConfig,
  renderSplitMap,
  type BackendCounters,
  type WeightedRevision,
} from "./proxy.js";
export {
  installRolloutRunner,
  revisionReadiness,
  rolloutRunnerUnit,
  rolloutRunnerUnitName,
  type RevisionReadiness,
  type RolloutRunnerOptions,
} from "./rollout-runner.js";
export {
  readDesiredSplit,
  repairCanarySplit,
  trafficRepairLayout,
  trafficRepairUnits,
  type CanaryRepair,
  type TrafficRepairOptions,
} from "./traffic-repair.js";
export {
  formatSshTarget,
  parseSshTarget,
  SshConnection,
  type SshOptions,
  type SshTarget,
} from "./ssh.js";
export { REMOTE_UPLOADS, runSingleVmOverSsh, type RemoteVerbOptions, type RemoteVerbResult } from "./remote.js";
export {
  REMOTE_CALL_PROTOCOL,
  REMOTE_ENV_DATA,
  serveRemoteCall,
  type RemoteAnswer,
  type RemoteEnvelope,
  type ServeRemoteCallOptions,
} from "./remote-env.js";
