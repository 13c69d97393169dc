import { GreenticError } from "@greentic/deploy-spec/documents";
import type { CredentialRequirement, CredentialsValidation } from "@greentic/env-packs";
import { boundHandler, checkEnvArgument, handlerContext, type OperationsContext } from "./context.js";

/** `op credentials requirements <env>`: what the bound deployer needs. */
export interface CredentialsRequirementsResult {
  environment_id: string;
  deployer_kind: string;
  requirements: CredentialRequirement[];
}

/** `op credentials validate <env>`: whether the bound deployer has what it needs here. */
export interface CredentialsValidateResult {
  environment_id: string;
  deployer_kind: string;
  validation: CredentialsValidation;
}

async function credentialsOf(ctx: OperationsContext, envId: string) {
  const id = checkEnvArgument(envId);
  const { environment } = await ctx.store.load(id);
  const { handler, kind } = await boundHandler(ctx, environment, "deployer");
  if (handler.credentials === undefined) {
    throw new GreenticError("internal", `the deployer env-pack ${handler.descriptorPath} has no credentials contract`, {
      hint: "fix the env-pack plugin",
    });
  }
  return { id, kind, credentials: handler.credentials };
}

/** `op credentials requirements <env>`. */
export async function credentialsRequirements(
  ctx: OperationsContext,
  envId: string,
): Promise<CredentialsRequirementsResult> {
  const { id, kind, credentials } = await credentialsOf(ctx, envId);
  return { environment_id: id, deployer_kind: kind, requirements: credentials.requirements() };
}

/** `op credentials validate <env>`: runs the deployer's checks (read-only). */
export async function credentialsValidate(ctx: OperationsContext, envId: string): Promise<CredentialsValidateResult> {
  const { id, kind, credentials } = await credentialsOf(ctx, envId);
  return {
    environment_id: id,
    deployer_kind: kind,
    validation: await credentials.validate(await handlerContext(ctx, id, "deployer")),
  };
}
