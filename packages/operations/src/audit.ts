import { GreenticError } from "@greentic/deploy-spec/documents";
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
  const since =
    query.since === undefined
      ? undefined
      : parseSince(String(query.since instanceof Date ? query.since.toISOString() : query.since));
  const q = since === undefined ? query : { ...query, since };
  return { environment_id: id, events: await ctx.store.listAudit(await existingEnv(ctx, id), q) };
}

/** `op audit verify <env>`. */
export async function auditVerify(ctx: OperationsContext, envId: string): Promise<AuditVerifyResult> {
  const id = await existingEnv(ctx, envId);
  return { environment_id: id, ...(await ctx.store.verifyAudit(id)) };
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A point in time as people write it: an RFC 3339 time or a date (`2026-07-01`, local
 * midnight), a duration ago (`90s`, `30m`, `1h`, `2d`, `1w`), `today` or `yesterday` (local
 * midnight). Returns an ISO timestamp; `invalid-argument` otherwise.
 */
export function parseSince(text: string, now: Date = new Date()): string {
  const t = text.trim().toLowerCase();
  const ago = /^(\d+)\s*([smhdw])$/.exec(t);
  if (ago !== null) return new Date(now.getTime() - Number(ago[1]) * UNIT_MS[ago[2]!]!).toISOString();
  if (t === "today" || t === "yesterday") {
    const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    if (t === "yesterday") midnight.setDate(midnight.getDate() - 1);
    return midnight.toISOString();
  }
  const date = /^\d{4}-\d{2}-\d{2}$/.test(t) ? new Date(`${t}T00:00:00`) : new Date(text.trim());
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(t)) {
    throw new GreenticError("invalid-argument", `since ${JSON.stringify(text)} is not a time`, {
      path: "since",
      hint: "give a duration ago (30m, 1h, 2d), today, yesterday, a date (2026-07-01) or an RFC 3339 time",
    });
  }
  return date.toISOString();
}
