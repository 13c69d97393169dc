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
