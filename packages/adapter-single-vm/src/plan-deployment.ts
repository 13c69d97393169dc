import type { DeploymentSpec } from "@greentic/deploy-spec";
import { isCanary, planCanary } from "./canary.js";
import { planRecreate, type PlanOptions, type SingleVmPlan } from "./plan.js";

/** Observes the host and plans what apply would change (either strategy). Nothing is written. */
export async function planDeployment(spec: DeploymentSpec, options: PlanOptions = {}): Promise<SingleVmPlan> {
  return isCanary(spec) ? planCanary(spec, options) : planRecreate(spec, options);
}
