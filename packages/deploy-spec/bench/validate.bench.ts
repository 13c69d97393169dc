// How long validation, digests and one engine transform take on a large environment
// (50 deployments x 10 revisions, one split each), against a JSON clone as the baseline.
import {
  canonicalDigest,
  engine,
  EnvironmentSchema,
  validateEnvironment,
  type Environment,
} from "@greentic/deploy-spec";
import { median, report, timeRuns } from "../../../bench/lib.ts";

const NOW = "2026-07-01T12:00:00Z";
const ulid = (n: number) => `01J${String(n).padStart(23, "0")}`;

function largeEnvironment(deployments: number, revisionsEach: number): Environment {
  const env: Environment = {
    schema: "greentic.environment.v1",
    environment_id: "bench",
    name: "bench",
    host_config: { env_id: "bench", listen_addr: "127.0.0.1:8080" },
    packs: [
      {
        slot: "deployer",
        kind: "greentic.deployer.local-process@0.1.0",
        pack_ref: "greentic.deployer.local-process@0.1.0",
        generation: 0,
      },
    ],
    bundles: [],
    revisions: [],
    traffic_splits: [],
    messaging_endpoints: [],
    extensions: [],
    revocation: { required: false },
    retention: {},
    health: { state: "unknown" },
  };
  let id = 1;
  for (let d = 0; d < deployments; d++) {
    const dep = ulid(1_000_000 + d);
    const revs: string[] = [];
    for (let r = 0; r < revisionsEach; r++) {
      const rid = ulid(id++);
      revs.push(rid);
      env.revisions.push({
        schema: "greentic.revision.v1",
        revision_id: rid,
        env_id: "bench",
        bundle_id: `b${d}`,
        deployment_id: dep,
        sequence: r + 1,
        created_at: NOW,
        bundle_digest: `sha256:${"a".repeat(64)}`,
        pack_list: [{ pack_id: `p${d}`, version: "1.0.0", digest: `sha256:${"b".repeat(64)}` }],
        pack_list_lock_ref: `revisions/${rid}/pack-list.lock`,
        pack_config_refs: [],
        config_digest: "sha256:x",
        signature_sidecar_ref: "s",
        lifecycle: "ready",
        drain_seconds: 0,
        abort_metrics: [],
      });
    }
    env.bundles.push({
      schema: "greentic.bundle-deployment.v1",
      deployment_id: dep,
      env_id: "bench",
      bundle_id: `b${d}`,
      customer_id: "c",
      status: "active",
      current_revisions: revs,
      route_binding: { hosts: [], path_prefixes: [], tenant_selector: { tenant: "default", team: "default" } },
      revenue_share: [{ party_id: "greentic", basis_points: 10000 }],
      revenue_policy_ref: "r",
      created_at: NOW,
      authorization_ref: "auth.json",
    });
    env.traffic_splits.push({
      schema: "greentic.traffic-split.v1",
      env_id: "bench",
      deployment_id: dep,
      bundle_id: `b${d}`,
      generation: 0,
      entries: [
        { revision_id: revs[0]!, weight_bps: 5000 },
        { revision_id: revs[1]!, weight_bps: 5000 },
      ],
      updated_at: NOW,
      updated_by: "op",
      idempotency_key: "k0",
      authorization_ref: "auth.json",
    });
  }
  return env;
}

const env = largeEnvironment(50, 10);
const bytes = JSON.stringify(env).length;
const RUNS = 15;
const cases: [string, () => unknown][] = [
  ["JSON clone (baseline)", () => JSON.parse(JSON.stringify(env))],
  ["EnvironmentSchema.safeParse", () => EnvironmentSchema.safeParse(env)],
  ["validateEnvironment", () => validateEnvironment(env)],
  ["canonicalDigest", () => canonicalDigest(env)],
  [
    "engine.setTraffic",
    () =>
      engine.setTraffic(
        env,
        {
          environment_id: "bench",
          deployment_id: env.bundles[7]!.deployment_id,
          entries: [{ revision_id: env.bundles[7]!.current_revisions[2]!, weight_bps: 10000 }],
          idempotency_key: "k1",
          updated_by: "op",
          authorization_ref: "auth.json",
        },
        { now: NOW, newId: () => ulid(9_999_999) },
      ),
  ],
];
if (validateEnvironment(env).length !== 0) throw new Error("bench environment is invalid");
const medians = new Map<string, number>();
for (const [name, fn] of cases) medians.set(name, median(await timeRuns(fn, RUNS, 5)));
const base = medians.get("JSON clone (baseline)")!;
report(
  `deploy-spec on a ${Math.round(bytes / 1024)} KiB environment (50 deployments, 500 revisions)`,
  "JSON clone",
  cases.map(([name]) => ({
    name,
    median: medians.get(name)!,
    unit: "ms",
    ratio: medians.get(name)! / base,
    runs: RUNS,
  })),
);
