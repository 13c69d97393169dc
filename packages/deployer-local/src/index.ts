export {
  LocalProcessDeployer,
  defaultRuntimeBin,
  localProcessDeployerHandler,
  LocalProcessAnswersSchema,
  type LocalProcessAnswers,
  type LocalProcessOptions,
} from "./local-process.js";
export {
  DEFAULT_ROUTER_LISTEN,
  defaultRouterBin,
  localRouterStatus,
  localRouterUrl,
  type LocalRouterStatus,
} from "./local-process-router.js";
export {
  isSingleExecutable,
  ROLE_FLAG,
  type LocalRole,
  type RoleCommand,
  roleCommandFor,
  runRole,
  selfRoleCommand,
} from "./roles.js";
