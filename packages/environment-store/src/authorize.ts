import { userInfo } from "node:os";
import type { AuditActor, AuditDecision } from "@greentic/deploy-spec";
import type { AuthorizationRequest } from "./types.js";

/** The operator running this process: `{kind: "local-user", user, uid}` as in the reference. */
export function localActor(): AuditActor {
  let user = process.env.USER ?? process.env.USERNAME;
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      user = "unknown";
    }
  }
  const uid = process.getuid?.();
  return uid === undefined ? { kind: "local-user", user } : { kind: "local-user", user, uid };
}

/**
 * The reference's current local policy: the local filesystem store's boundary is OS file
 * ownership, so every local mutation is allowed; env `local` under `local-only`, any other
 * env under `local-owner`.
 */
export function authorizeLocalOwner(request: AuthorizationRequest): AuditDecision {
  if (request.env_id === "local") {
    return { decision: "allow", policy: "local-only", reason: "env `local` is the local env" };
  }
  return {
    decision: "allow",
    policy: "local-owner",
    reason: `named env \`${request.env_id}\` authorized by local store ownership (single-operator; shared-store RBAC is enforced on the remote path)`,
  };
}
