import type { CapabilitySlot } from "@greentic/deploy-spec";
import type { z } from "zod";

/**
 * What a handler sees of the environment it acts for. Handlers never see the store itself:
 * they get the environment id, a private data area and the slot's answers.
 */
export interface HandlerContext {
  /** The environment id, e.g. `local`. */
  envId: string;
  /**
   * Absolute path of a per-environment data area (`revisions`, `processes`, `admin-tls`,
   * `secrets`, ...), created on demand. Only local handlers keep files there. Readers pass
   * `{ create: false }`: the path only, which may not exist, so a read never writes (and works
   * on a read-only store).
   */
  dataDir(area: string, options?: { create?: boolean }): Promise<string>;
  /**
   * The store's committed `runtime-config.json` (desired traffic), when the store is a directory
   * on this machine: a deployer whose supervisor outlives the CLI converges its router to it.
   */
  runtimeConfigFile?: string;
  /** The slot's answers (`env-packs/<slot>/answers.json`), already parsed, if any. */
  answers?: unknown;
  /**
   * The environment's `public_base_url`, when set: where operators reach the environment. A
   * deployer whose own view of its address is not the operator's (a VM driven over SSH) reports
   * this as its URL.
   */
  publicBaseUrl?: string | undefined;
  /** Receives structured progress events; must never be given secret values. */
  log?(event: HandlerLogEvent): void;
}

/** A structured progress event from a handler. */
export interface HandlerLogEvent {
  /** Dotted event name, e.g. `local-process.started`. */
  event: string;
  level?: "debug" | "info" | "warn" | "error";
  [field: string]: unknown;
}

/** Outcome of one preflight probe. */
export interface PreflightResult {
  ok: boolean;
  /** One line saying what was found (a version, a path, why it failed). */
  detail: string;
}

/** A check run before a handler is used: a tool present, a version, credentials reachable. */
export interface PreflightCheck {
  /** Stable name, e.g. `node-version`, `runtime-built`. */
  name: string;
  /** Runs the probe. It should stop when `signal` aborts (the timeout). */
  run(signal: AbortSignal): Promise<PreflightResult>;
  /** Upper bound for `run`; the check fails when it is exceeded. */
  timeoutMs: number;
  /** What to do when the check fails, e.g. `install Node 22 from https://nodejs.org`. */
  installHint: string;
}

/** The part of a revision a deployer needs (a structural subset of `greentic.revision.v1`). */
export interface RevisionRef {
  revision_id: string;
  deployment_id: string;
  bundle_id: string;
}

/** One weighted entry of a traffic split (basis points). */
export interface SplitEntry {
  revision_id: string;
  weight_bps: number;
}

/** The part of a `greentic.traffic-split.v1` a deployer applies. */
export interface TrafficSplitInput {
  deployment_id: string;
  bundle_id: string;
  entries: readonly SplitEntry[];
  generation?: number;
  /**
   * The deployment's route binding: which hosts and path prefixes reach it (empty lists: any
   * host, every path). A deployer with one URL per environment routes by it.
   */
  route?: { hosts: readonly string[]; path_prefixes: readonly string[] };
}

/** `stage` input: the revision and the `.gtbundle` file to stage for it. */
export interface StageRequest {
  revision: RevisionRef;
  /** Path of the bundle file (`.gtbundle`) to copy, verify and extract. */
  bundlePath: string;
}

/** `stage` result. `bundle_digest` is `sha256:<hex>` of the staged copy. */
export interface StageOutcome {
  revision_id: string;
  bundle_digest: string;
  /** Where the deployer keeps the staged bundle (handler-specific; informational). */
  location?: string;
  /** True when the revision was already staged with the same digest (nothing done). */
  unchanged?: boolean;
}

/** `warm` input. */
export interface WarmRequest {
  revision: RevisionRef;
  /** How long the health gate may wait for readiness. Default: handler-specific. */
  timeoutMs?: number;
}

/** The reference's health-gate outcome, sent as data. */
export type HealthGateOutcome = { ok: true; url?: string } | { ok: false; failure: HealthGateFailure };

export interface HealthGateFailure {
  /** Names of the failed checks, e.g. `["process-start"]`, `["readiness"]`. */
  failed_checks: string[];
  message: string;
}

/** `applyTrafficSplit` input: the split, and the environment's revisions it may reference. */
export interface ApplyTrafficSplitRequest {
  split: TrafficSplitInput;
  revisions: readonly RevisionRef[];
}

/** What a deployer currently applies: one block per split entry, in order. */
export interface AppliedRuntimeConfig {
  env_id: string;
  revisions: AppliedRuntimeRevision[];
}

export interface AppliedRuntimeRevision {
  deployment_id: string;
  bundle_id: string;
  revision_id: string;
  weight_bps: number;
}

/** A revision as the deployer sees it on the host. Revisions never staged are absent. */
export interface RevisionRuntimeStatus {
  revision_id: string;
  deployment_id: string;
  /** `running`: process alive; `stopped`: staged, not running; `failed`: record left by a dead process. */
  state: "running" | "stopped" | "failed";
  pid?: number;
  /** Public URL of a running revision, e.g. `http://127.0.0.1:41233/`. */
  url?: string;
  /** Admin endpoint (mTLS), e.g. `https://127.0.0.1:41234`. */
  admin_url?: string;
  started_at?: string;
  /** Log file of the process. */
  log?: string;
  /** Times a supervisor restarted the revision after a crash. */
  restarts?: number;
  /** Answer of the revision's readiness check, when `status` was asked to probe (`{probe: true}`). */
  ready?: boolean;
}

/** Options of `Deployer.status`. */
export interface StatusOptions {
  /** Also ask each running revision whether it is ready (slower: one request each). */
  probe?: boolean;
}

/**
 * A deployer's environment router: one URL for the whole environment that follows the traffic
 * split (the local-process router, a load balancer). Reported by the optional `routerStatus`.
 */
export interface DeployerRouterStatus {
  /** `running`: serving; `stopped`: none started (or stopped); `failed`: the recorded process is gone. */
  state: "running" | "stopped" | "failed";
  pid?: number;
  /** The environment's URL, e.g. `http://127.0.0.1:8080/`; absent while not serving. */
  url?: string;
  /** The router's log file, when it writes one on this machine. */
  log?: string;
  /** How often the router's supervisor restarted it, when one supervises it. */
  restarts?: number;
}

/** One line of a deployer's log (a journald entry, a log file's line). */
export interface DeployerLogLine {
  /** `router`, `rollout`, or the revision id the line belongs to. */
  source: string;
  /** RFC 3339 time of the line, when known. */
  ts: string | null;
  line: string;
}

/** `readLogs` input: which logs, and how much of them. */
export interface ReadLogsRequest {
  /** Only this revision's log (a full revision id). */
  revision?: string | undefined;
  /** Only the router's (the environment proxy's) log. */
  router?: boolean | undefined;
  /** Only lines at or after this time (epoch ms). */
  sinceMs?: number | undefined;
  /** The newest N lines (ignored with `after`). */
  lines: number;
  /** Only lines after this position, a `cursor` of an earlier answer (following). */
  after?: string | undefined;
}

/** `readLogs` result: the logs read, their lines oldest first, and where to go on from. */
export interface ReadLogsResult {
  /** What was read, e.g. `{source: "router", unit: "greentic-acme-proxy.service"}`. */
  sources: Array<{ source: string; unit: string }>;
  lines: DeployerLogLine[];
  /** Position after the last line (`after` of the next call), or null when nothing was read yet. */
  cursor: string | null;
}

/** Deployer options for `drain`. */
export interface DrainOptions {
  /** How long to wait for the process to exit after SIGTERM. */
  timeoutMs?: number;
}

/** Result of `destroy`: the revisions whose processes were stopped. */
export interface DestroyOutcome {
  stopped: string[];
}

/**
 * The deployer slot. Every method is idempotent and checks the request before touching
 * anything: an unknown revision is `not-found`, an invalid split (bad weights, sum other than
 * 10 000, duplicate or foreign revision) is `validation`.
 */
export interface Deployer {
  stage(ctx: HandlerContext, request: StageRequest): Promise<StageOutcome>;
  /** Starts (or confirms) the revision and waits for readiness; a failed gate is data, not a throw. */
  warm(ctx: HandlerContext, request: WarmRequest): Promise<HealthGateOutcome>;
  /** Stops taking traffic and stops the revision's process. */
  drain(ctx: HandlerContext, revision: RevisionRef, options?: DrainOptions): Promise<void>;
  /** Stops anything left of the revision and forgets it (staged files included). */
  archive(ctx: HandlerContext, revision: RevisionRef): Promise<void>;
  /**
   * Optional: removes what `stage` made for a revision that was never recorded (its commit was
   * refused, or a replay answered with another revision), leaving no trace (unlike `archive`,
   * no "archived" record). An unknown revision is not an error. Without it, operations calls
   * `archive` instead.
   */
  unstage?(ctx: HandlerContext, revision: RevisionRef): Promise<void>;
  applyTrafficSplit(ctx: HandlerContext, request: ApplyTrafficSplitRequest): Promise<AppliedRuntimeConfig>;
  status(ctx: HandlerContext, options?: StatusOptions): Promise<RevisionRuntimeStatus[]>;
  /** What the deployer currently applies, to compare with the spec projection (drift). */
  runtimeConfig(ctx: HandlerContext): Promise<AppliedRuntimeConfig>;
  /** Stops every revision of the environment and removes the deployer's records. */
  destroy(ctx: HandlerContext): Promise<DestroyOutcome>;
  /**
   * Optional: reads the logs the deployer keeps on its host (the journal of each revision's
   * unit, the proxy's, the rollout runner's) through the same executor it deploys with. An
   * unknown revision or a router that has no log there is `not-found`. Without it, `op logs`
   * reads the log files `status` and `routerStatus` name.
   */
  readLogs?(ctx: HandlerContext, request: ReadLogsRequest): Promise<ReadLogsResult>;
  /** Optional: the environment's router, for deployers that give the environment one URL. Never throws for a missing router. */
  routerStatus?(ctx: HandlerContext): Promise<DeployerRouterStatus>;
  /**
   * Optional: per-revision request statistics from the deployer's proxy, over the requests
   * answered since `sinceMs` (epoch ms). A progressive rollout reads them at each step.
   */
  revisionMetrics?(ctx: HandlerContext, options: { sinceMs: number }): Promise<RevisionMetricsReport[]>;
  /** Optional: whether a revision is ready (its readiness probe and the proxy's check), for a rollout's verdict. */
  revisionReadiness?(ctx: HandlerContext, revisionId: string): Promise<{ ready: boolean; detail: string }>;
  /**
   * Optional: runs a progressive rollout's runner (`op rollout run`) supervised on the deployer's
   * host, so that it outlives the command that started it, is restarted after a crash and
   * started again at boot. Without it a rollout can only run in the foreground.
   */
  startRolloutRunner?(ctx: HandlerContext, request: RolloutRunnerRequest): Promise<{ unit: string }>;
  /**
   * Optional: whether `startRolloutRunner` can serve this environment (false, e.g., for a VM
   * driven over SSH, where the runner could not reach the store). Absent: it can. Asked before
   * a rollout is recorded, so that a start it cannot run is refused with nothing written.
   */
  supervisesRollouts?(ctx: HandlerContext): Promise<boolean>;
}

/** What a deployer needs to supervise a rollout's runner. */
export interface RolloutRunnerRequest {
  rollout_id: string;
  /** How `op` is run on this host (`[node, .../bin/run.js]` or `[.../op]`). */
  op_command: string[];
  store_root?: string | undefined;
  /** `GREENTIC_HOME` of the runner. */
  home?: string | undefined;
}

/** What a rollout reads of one revision: requests, 5xx and latency over a window. */
export interface RevisionMetricsReport {
  revision_id: string;
  /** Requests answered in the window. */
  requests: number;
  errors_5xx: number;
  /** `errors_5xx / requests` (0 when there were none). */
  error_rate: number;
  /** 99th percentile of the total request time in ms, or null without requests. */
  p99_ms: number | null;
  /**
   * The proxy's own counters for the revision since the proxy (re)started, when it keeps them:
   * a caller takes differences between two readings (a reload starts them again at 0).
   */
  counters?: { requests: number; errors_5xx: number };
}

/** A credential or capability a deployer needs. */
export interface CredentialRequirement {
  name: string;
  description: string;
  /** True when the operator must supply material (a key, a token); false for ambient access. */
  material: boolean;
}

/** The reference's `greentic.credentials.v1` validation block. */
export interface CredentialsValidation {
  result: "pass" | "fail";
  missing_capabilities: string[];
  checked_at: string;
}

/** Every deployer declares what it needs, even when that is nothing. */
export interface DeployerCredentials {
  requirements(): CredentialRequirement[];
  validate(ctx: HandlerContext): Promise<CredentialsValidation>;
}

/** Options of `SecretsStore.get`: reading a value is an explicit act. */
export interface RevealOptions {
  reveal: true;
}

/** Options of `SecretsStore.rotate`. */
export interface RotateOptions {
  /** The new value; a random 32-byte base64url value when absent. */
  value?: string;
}

/** The secrets slot. Values never appear in logs, events or error messages. */
export interface SecretsStore {
  put(ctx: HandlerContext, key: string, value: string): Promise<{ key: string; created: boolean }>;
  /** Throws `not-found` for an unknown key; throws `invalid-argument` without `{reveal: true}`. */
  get(ctx: HandlerContext, key: string, options: RevealOptions): Promise<string>;
  /** Keys only, sorted. */
  list(ctx: HandlerContext): Promise<string[]>;
  delete(ctx: HandlerContext, key: string): Promise<{ key: string; deleted: boolean }>;
  rotate(ctx: HandlerContext, key: string, options?: RotateOptions): Promise<{ key: string; rotated_at: string }>;
  /**
   * A keyed fingerprint of `value` (e.g. an HMAC under a per-environment key) for idempotency
   * records. Without it, values are left out of fingerprints altogether.
   */
  fingerprint?(ctx: HandlerContext, value: string): Promise<string>;
  /** Removes every secret the environment holds (`op env destroy` without `--keep-secrets`). */
  destroy?(ctx: HandlerContext): Promise<{ removed: boolean }>;
}

/** A structured telemetry event. */
export interface TelemetryEvent {
  name: string;
  at?: string;
  level?: "debug" | "info" | "warn" | "error";
  attributes?: Record<string, unknown>;
}

export interface TelemetrySink {
  emit(ctx: HandlerContext, event: TelemetryEvent): Promise<void>;
}

/** Key-value store used by the sessions and state slots. Values are JSON. */
export interface KeyValueStore {
  get(ctx: HandlerContext, key: string): Promise<unknown>;
  set(ctx: HandlerContext, key: string, value: unknown): Promise<void>;
  delete(ctx: HandlerContext, key: string): Promise<boolean>;
  /** Keys, sorted, optionally those starting with `prefix`. */
  list(ctx: HandlerContext, prefix?: string): Promise<string[]>;
}

/** One revoked subject (a key id, a certificate fingerprint, a token id). */
export interface RevocationEntry {
  subject: string;
  reason?: string;
  revoked_at: string;
}

/** The revocation slot: a list of revoked subjects. */
export interface RevocationList {
  revoke(ctx: HandlerContext, subject: string, reason?: string): Promise<RevocationEntry>;
  isRevoked(ctx: HandlerContext, subject: string): Promise<boolean>;
  list(ctx: HandlerContext): Promise<RevocationEntry[]>;
}

/**
 * An env-pack handler: what a descriptor such as `greentic.deployer.local-process@0.1.0`
 * resolves to. A handler fills the capability matching its slot.
 */
export interface EnvPackHandler {
  slot: CapabilitySlot;
  /** The registry key: the descriptor without its version, e.g. `greentic.secrets.dev-store`. */
  descriptorPath: string;
  /** Semver range of descriptor versions this handler serves, e.g. `^0.1.0`. */
  supportedVersions: string;
  /** One sentence for `env-packs list` and doctor. */
  description: string;
  /** Schema of the slot's answers file (zod); see `answersJsonSchema`. */
  answersSchema?: z.ZodType;
  preflight?(): PreflightCheck[];
  deployer?: Deployer;
  /** Required for a deployer (the registry refuses a deployer without it). */
  credentials?: DeployerCredentials;
  secrets?: SecretsStore;
  telemetry?: TelemetrySink;
  sessions?: KeyValueStore;
  state?: KeyValueStore;
  revocation?: RevocationList;
}

/** Stable codes in `GreenticError.details.code` for registry and plugin errors. */
export type RegistryErrorCode =
  | "unknown-kind"
  | "version-unsupported"
  | "slot-mismatch"
  | "duplicate-registration"
  | "deployer-missing-credentials"
  | "invalid-handler"
  | "plugin-missing"
  | "plugin-broken";
