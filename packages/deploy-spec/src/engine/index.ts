import { addPackBinding, removePackBinding, rollbackPackBinding, updatePackBinding } from "./bindings.js";
import { addBundle, removeBundle, updateBundle } from "./bundles.js";
import { createEnvironment, initLocalEnvironment, setConfig, updateEnvironment } from "./environments.js";
import {
  archiveRevision,
  drainRevision,
  stageRevision,
  tagRevision,
  untagRevision,
  warmRevision,
} from "./revisions.js";
import { projectRuntimeConfig } from "./runtime-config.js";
import { rollbackTraffic, setTraffic } from "./traffic.js";

/**
 * Pure verb transforms shared by every store backend: `(env, payload, ctx) => {environment,
 * result, error?}`. No clock, no randomness, no I/O; the input is never modified and every
 * output environment is validated. Errors are `GreenticError` (`validation`, `conflict`,
 * `not-found`, `idempotency-conflict`, `invalid-argument`).
 */
export const engine = {
  createEnvironment,
  updateEnvironment,
  setConfig,
  initLocalEnvironment,
  addPackBinding,
  updatePackBinding,
  removePackBinding,
  rollbackPackBinding,
  addBundle,
  updateBundle,
  removeBundle,
  stageRevision,
  warmRevision,
  drainRevision,
  archiveRevision,
  tagRevision,
  untagRevision,
  setTraffic,
  rollbackTraffic,
  projectRuntimeConfig,
} as const;
