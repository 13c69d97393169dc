// The state op refuses to write, as another writer can leave it: deployments with traffic and
// no route binding, which all claim any host and `/`. Documents as the Rust reference writes
// them, for tests that show the refusal, the report and the way out. No package imports.

/** Deployments (`[deployment id, bundle id]`), each with one ready revision, none bound; those in `served` take all their deployment's traffic. */
export function unboundDeployments(envId: string, deployments: readonly [string, string][], served: readonly string[]) {
  const revisionOf = (id: string) => `${id.slice(0, -1)}1`;
  return {
    bundles: deployments.map(([id, bundle]) => ({
      schema: "greentic.bundle-deployment.v1",
      deployment_id: id,
      env_id: envId,
      bundle_id: bundle,
      customer_id: "acme",
      status: "active",
      current_revisions: [],
      route_binding: { hosts: [], path_prefixes: [], tenant_selector: { tenant: "default", team: "default" } },
      revenue_share: [{ party_id: "acme", basis_points: 10000 }],
      revenue_policy_ref: "",
      created_at: "2026-07-01T00:00:00Z",
      authorization_ref: "",
    })),
    revisions: deployments.map(([id, bundle]) => ({
      schema: "greentic.revision.v1",
      revision_id: revisionOf(id),
      env_id: envId,
      bundle_id: bundle,
      deployment_id: id,
      sequence: 1,
      created_at: "2026-07-01T00:00:00Z",
      bundle_digest: `sha256:${"0".repeat(64)}`,
      pack_list: [],
      pack_list_lock_ref: "",
      config_digest: "0".repeat(64),
      signature_sidecar_ref: "",
      lifecycle: "ready",
    })),
    traffic_splits: deployments
      .filter(([id]) => served.includes(id))
      .map(([id, bundle]) => ({
        schema: "greentic.traffic-split.v1",
        env_id: envId,
        deployment_id: id,
        bundle_id: bundle,
        generation: 1,
        entries: [{ revision_id: revisionOf(id), weight_bps: 10000 }],
        updated_at: "2026-07-01T00:00:00Z",
        updated_by: "ref",
        idempotency_key: `k-${bundle}`,
        authorization_ref: "",
      })),
  };
}

/**
 * An audit line as the Rust reference appends it (no `prev_hash`): after op's last commit it
 * tells the store that environment.json was rewritten by that writer, not tampered with.
 */
export function referenceAuditLine(envId: string, noun: string, verb: string, target: Record<string, unknown>): string {
  return `${JSON.stringify({
    schema: "greentic.audit.event.v1",
    event_id: "01JTKW5B4W4Q5Y1CQW93F7S0R1",
    ts: "2026-07-01T12:00:00Z",
    actor: { kind: "local-user", user: "ref", uid: 1000 },
    env_id: envId,
    noun,
    verb,
    target,
    authorization: { decision: "allow", policy: "local-only", reason: `env \`${envId}\` is local` },
    result: { outcome: "ok" },
  })}\n`;
}
