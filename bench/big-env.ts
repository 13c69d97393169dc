// The big environment the store benches measure reads on (1 000 revisions in the document, a
// 100 000-event audit log), shared by the local and the PostgreSQL store benches so that both
// time the same data. No package imports: the caller passes its id source (a ulid).
import { createHash } from "node:crypto";

const sha256Hex = (text: string): string => createHash("sha256").update(text).digest("hex");

/** An environment document holding one bundle and `revisions` archived revisions of it. */
export function bigEnvironment(id: string, ulid: () => string, revisions = 1000): Record<string, unknown> {
  const deploymentId = ulid();
  return {
    schema: "greentic.environment.v1",
    environment_id: id,
    name: id,
    host_config: { env_id: id },
    packs: [],
    bundles: [
      {
        schema: "greentic.bundle-deployment.v1",
        deployment_id: deploymentId,
        env_id: id,
        bundle_id: "shop",
        customer_id: "acme",
        status: "active",
        current_revisions: [],
        route_binding: { tenant_selector: { tenant: "default", team: "default" } },
        revenue_share: [{ party_id: "acme", basis_points: 10000 }],
        revenue_policy_ref: "billing-policies/shop/acme/v1.json",
        created_at: "2026-07-01T00:00:00Z",
        authorization_ref: "auth.json",
      },
    ],
    revisions: Array.from({ length: revisions }, (_, n) => ({
      schema: "greentic.revision.v1",
      revision_id: ulid(),
      env_id: id,
      bundle_id: "shop",
      deployment_id: deploymentId,
      sequence: n + 1,
      created_at: "2026-07-01T00:00:00Z",
      bundle_digest: `sha256:${sha256Hex(String(n))}`,
      pack_list: [],
      pack_list_lock_ref: `revisions/${n}/pack-list.lock`,
      config_digest: sha256Hex(`c${n}`),
      signature_sidecar_ref: `revisions/${n}/sig`,
      lifecycle: "archived",
    })),
  };
}

/** A synthetic audit event of the big log, number `n`, chained to `prev`: every hundredth a `traffic set` by "auditor". */
export function syntheticEvent(envId: string, n: number, prev: string, ulid: () => string) {
  const rare = n % 100 === 0;
  return {
    schema: "greentic.audit.event.v1",
    event_id: ulid(),
    ts: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
    actor: { kind: "local-user", user: rare ? "auditor" : "op", uid: 1000 },
    env_id: envId,
    noun: rare ? "traffic" : "revisions",
    verb: rare ? "set" : "stage",
    target: { revision_id: ulid() },
    authorization: { decision: "allow", policy: "local-owner", reason: "bench" },
    result: { outcome: "ok" },
    prev_hash: prev,
  };
}
