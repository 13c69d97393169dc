import type { EngineContext, Environment, Revision } from "../src/index.js";

/** Deterministic ULIDs: `ulid(1)` = `01J00000000000000000000001`. */
export function ulid(n: number): string {
  return `01J${String(n).padStart(23, "0")}`;
}

export const NOW = "2026-07-01T12:00:00Z";
export const DEP = ulid(100);
export const REV_A = ulid(1);
export const REV_B = ulid(2);

/** An engine context whose ids count up from 500. */
export function context(now = NOW): EngineContext & { minted: string[] } {
  let next = 500;
  const minted: string[] = [];
  return {
    now,
    minted,
    newId: () => {
      const id = ulid(next++);
      minted.push(id);
      return id;
    },
  };
}

export function revision(
  id: string,
  lifecycle: Revision["lifecycle"],
  sequence: number,
  overrides: Partial<Revision> = {},
): Revision {
  return {
    schema: "greentic.revision.v1",
    revision_id: id,
    env_id: "local",
    bundle_id: "shop",
    deployment_id: DEP,
    sequence,
    created_at: NOW,
    bundle_digest: `sha256:${"a".repeat(64)}`,
    pack_list: [{ pack_id: "greentic.shop", version: "1.2.3", digest: `sha256:${"b".repeat(64)}` }],
    pack_list_lock_ref: `revisions/${id}/pack-list.lock`,
    pack_config_refs: [],
    config_digest: `sha256:${"c".repeat(64)}`,
    signature_sidecar_ref: `revisions/${id}/bundle.gtbundle.sig`,
    lifecycle,
    staged_at: NOW,
    drain_seconds: 0,
    abort_metrics: [],
    ...overrides,
  };
}

/** A valid `local` environment: one deployment of bundle `shop`, revisions A and B ready, split 50/50. */
export function sampleEnvironment(): Environment {
  return {
    schema: "greentic.environment.v1",
    environment_id: "local",
    name: "local",
    host_config: { env_id: "local", listen_addr: "127.0.0.1:8080" },
    packs: [
      {
        slot: "deployer",
        kind: "greentic.deployer.local-process@0.1.0",
        pack_ref: "greentic.deployer.local-process@0.1.0",
        generation: 0,
      },
      {
        slot: "secrets",
        kind: "greentic.secrets.dev-store@0.1.0",
        pack_ref: "greentic.secrets.dev-store@0.1.0",
        generation: 0,
      },
    ],
    bundles: [
      {
        schema: "greentic.bundle-deployment.v1",
        deployment_id: DEP,
        env_id: "local",
        bundle_id: "shop",
        customer_id: "local-dev",
        status: "active",
        current_revisions: [REV_A, REV_B],
        route_binding: { hosts: [], path_prefixes: ["/shop"], tenant_selector: { tenant: "default", team: "default" } },
        revenue_share: [{ party_id: "greentic", basis_points: 10000 }],
        revenue_policy_ref: "billing-policies/shop/local-dev/v1.json",
        created_at: NOW,
        authorization_ref: "auth.json",
      },
    ],
    revisions: [revision(REV_A, "ready", 1, { warmed_at: NOW }), revision(REV_B, "ready", 2, { warmed_at: NOW })],
    traffic_splits: [
      {
        schema: "greentic.traffic-split.v1",
        env_id: "local",
        deployment_id: DEP,
        bundle_id: "shop",
        generation: 0,
        entries: [
          { revision_id: REV_A, weight_bps: 5000 },
          { revision_id: REV_B, weight_bps: 5000 },
        ],
        updated_at: NOW,
        updated_by: "operator",
        idempotency_key: "k0",
        authorization_ref: "auth.json",
      },
    ],
    messaging_endpoints: [],
    extensions: [],
    revocation: { required: false },
    retention: {},
    health: { state: "unknown" },
  };
}
