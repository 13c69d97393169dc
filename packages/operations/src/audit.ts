import { GreenticError } from "@greentic/deploy-spec";
import type { AuditEventRecord, AuditQuery, AuditVerification } from "@greentic/environment-store";
import { checkEnvArgument, type OperationsContext } from "./context.js";
import { existingEnv } from "./lookups.js";

/** `op audit list <env>` result. */
export interface AuditListResult {
  environment_id: string;
  events: AuditEventRecord[];
}

/** `op audit verify <env>` result: the hash chain of the audit log checked line by line. */
export type AuditVerifyResult = { environment_id: string } & AuditVerification;

/** `op audit list <env> [--noun --verb --since --actor --limit]`. */
export async function auditList(
  ctx: OperationsContext,
  envId: string,
  query: AuditQuery = {},
): Promise<AuditListResult> {
  const id = checkEnvArgument(envId);
  if (query.limit !== undefined && (!Number.isInteger(query.limit) || query.limit < 1)) {
    throw new GreenticError(
      "invalid-argument",
      `limit must be a positive integer, got ${JSON.stringify(query.limit)}`,
      { path: "limit", hint: "e.g. --limit 20" },
    );
  }
  if (query.since !== undefined && Number.isNaN(new Date(query.since).getTime())) {
    throw new GreenticError("invalid-argument", `since ${JSON.stringify(query.since)} is not a date`, {
      path: "since",
      hint: "use an RFC 3339 time such as 2026-07-01T00:00:00Z",
    });
  }
  return { environment_id: id, events: await ctx.store.listAudit(await existingEnv(ctx, id), query) };
}

/** `op audit verify <env>`. */
export async function auditVerify(ctx: OperationsContext, envId: string): Promise<AuditVerifyResult> {
  const id = await existingEnv(ctx, envId);
  return { environment_id: id, ...(await ctx.store.verifyAudit(id)) };
}
