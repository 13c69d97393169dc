import type { ConfigSetAnswers, EnvCreateAnswers, EnvInitAnswers, EnvUpdateAnswers, FieldUpdate } from "../answers.js";
import { SCHEMA_IDS, type EnvPackBinding, type Environment, type EnvironmentHostConfig } from "../documents.js";
import { GreenticError } from "../errors.js";
import { DEFAULT_LISTEN_ADDR, normalizePublicBaseUrl } from "../host-config.js";
import { LOCAL_DEFAULT_BINDINGS, type PackSlot } from "../slots.js";
import { checkTarget, clone, compact, finish, type EngineContext, type EngineOutput } from "./shared.js";

function normalizedUrl(url: string): string {
  const r = normalizePublicBaseUrl(url);
  if (!r.ok)
    throw new GreenticError("validation", r.message, {
      path: "public_base_url",
      hint: "use http(s)://host[:port] with no path, query or fragment",
    });
  return r.value;
}

function emptyEnvironment(
  envId: string,
  name: string,
  hostConfig: EnvironmentHostConfig,
  packs: EnvPackBinding[],
): Environment {
  return {
    schema: SCHEMA_IDS.environment,
    environment_id: envId,
    name,
    host_config: hostConfig,
    packs,
    bundles: [],
    revisions: [],
    traffic_splits: [],
    messaging_endpoints: [],
    extensions: [],
    revocation: { required: false },
    retention: {},
    health: { state: "unknown" },
  };
}

export interface CreateEnvironmentResult {
  environment_id: string;
}

/** `op env create`: a new environment with no pack bindings. `existing` must be undefined. */
export function createEnvironment(
  existing: Environment | undefined,
  payload: EnvCreateAnswers,
  _ctx: EngineContext,
): EngineOutput<CreateEnvironmentResult> {
  if (existing !== undefined) {
    throw new GreenticError("conflict", `environment ${payload.environment_id} already exists`, {
      hint: "use `op env update` to change it",
      details: { code: "already-exists" },
    });
  }
  const hostConfig: EnvironmentHostConfig = compact({
    env_id: payload.environment_id,
    region: payload.region,
    tenant_org_id: payload.tenant_org_id,
    listen_addr: payload.listen_addr,
    public_base_url: payload.public_base_url === undefined ? undefined : normalizedUrl(payload.public_base_url),
    gui_enabled: payload.gui_enabled,
  });
  const env = emptyEnvironment(payload.environment_id, payload.name ?? payload.environment_id, hostConfig, []);
  return finish(env, { environment_id: payload.environment_id });
}

export interface UpdateEnvironmentResult {
  environment_id: string;
  /** Names of the fields that were set or cleared, in payload order. */
  changed: string[];
}

const HOST_FIELDS = ["region", "tenant_org_id", "listen_addr", "public_base_url", "gui_enabled"] as const;

/** `op env update`: tri-state updates (`{value}` set, `{clear:true}` clear, absent keep). */
export function updateEnvironment(
  env: Environment,
  payload: EnvUpdateAnswers,
  _ctx: EngineContext,
): EngineOutput<UpdateEnvironmentResult> {
  checkTarget(env, payload);
  const next = clone(env);
  const changed: string[] = [];
  if (payload.name !== undefined) {
    const u: FieldUpdate<string> = payload.name;
    if ("value" in u) {
      next.name = u.value;
      changed.push("name");
    } else if (u.clear) {
      throw new GreenticError("validation", "name cannot be cleared", {
        path: "name",
        hint: 'set a new name with {"value": "..."}',
      });
    }
  }
  const host = next.host_config as Record<string, unknown>;
  for (const field of HOST_FIELDS) {
    const u = payload[field] as FieldUpdate<unknown> | undefined;
    if (u === undefined) continue;
    if ("value" in u) {
      host[field] = field === "public_base_url" ? normalizedUrl(u.value as string) : u.value;
      changed.push(field);
    } else if (u.clear) {
      delete host[field];
      changed.push(field);
    }
  }
  return finish(next, { environment_id: env.environment_id, changed });
}

/** `op config set`: plain values for the name and host config fields. */
export function setConfig(
  env: Environment,
  payload: ConfigSetAnswers,
  _ctx: EngineContext,
): EngineOutput<UpdateEnvironmentResult> {
  checkTarget(env, payload);
  const next = clone(env);
  const changed: string[] = [];
  if (payload.name !== undefined) {
    next.name = payload.name;
    changed.push("name");
  }
  const host = next.host_config as Record<string, unknown>;
  for (const field of HOST_FIELDS) {
    const value = payload[field];
    if (value === undefined) continue;
    host[field] = field === "public_base_url" ? normalizedUrl(value as string) : value;
    changed.push(field);
  }
  if (payload.keep_revisions !== undefined) {
    next.retention = { ...next.retention, keep_revisions: payload.keep_revisions };
    changed.push("keep_revisions");
  }
  return finish(next, { environment_id: env.environment_id, changed });
}

export interface InitEnvironmentResult {
  environment_id: string;
  bound_slots: string[];
  pack_count: number;
  public_base_url: string | null;
  outcome: "created" | "healed" | "untouched";
  /** Present only when `outcome` is `healed`. */
  added_slots?: PackSlot[];
  /**
   * Present when `outcome` is `untouched` but default slots of ours only (`revocation`) are
   * unbound, as in an environment the reference created: `heal: true` binds them.
   */
  healable_slots?: PackSlot[];
}

/** The default slots the reference binds too; init always fills these when missing. */
const REFERENCE_DEFAULT_SLOTS: ReadonlySet<PackSlot> = new Set([
  "deployer",
  "secrets",
  "telemetry",
  "sessions",
  "state",
]);

function defaultBinding(slot: PackSlot, kind: string): EnvPackBinding {
  return { slot, kind, pack_ref: kind, generation: 0 };
}

/**
 * `op env init`: creates the environment with the local default bindings, or fills only
 * the missing default slots of an existing one (a user's binding is never replaced). Like the
 * reference, it fills the reference's five default slots; the slot only this implementation
 * binds by default (`revocation`) is added to an existing environment only with `heal: true`,
 * so an environment the reference created answers `untouched` and is not rewritten.
 */
export function initLocalEnvironment(
  existing: Environment | undefined,
  payload: EnvInitAnswers,
  _ctx: EngineContext,
): EngineOutput<InitEnvironmentResult> {
  const envId = payload.environment_id;
  const summary = (
    env: Environment,
    outcome: InitEnvironmentResult["outcome"],
    added?: PackSlot[],
  ): InitEnvironmentResult => ({
    environment_id: envId,
    bound_slots: env.packs.map((p) => p.slot),
    pack_count: env.packs.length,
    public_base_url: env.host_config.public_base_url ?? null,
    outcome,
    ...(added === undefined ? {} : { added_slots: added }),
  });
  if (existing === undefined) {
    const hostConfig: EnvironmentHostConfig = compact({
      env_id: envId,
      listen_addr: DEFAULT_LISTEN_ADDR,
      public_base_url: payload.public_base_url === undefined ? undefined : normalizedUrl(payload.public_base_url),
    });
    const env = emptyEnvironment(
      envId,
      envId,
      hostConfig,
      LOCAL_DEFAULT_BINDINGS.map((b) => defaultBinding(b.slot, b.kind)),
    );
    return finish(env, summary(env, "created"));
  }
  checkTarget(existing, payload);
  if (payload.public_base_url !== undefined) {
    throw new GreenticError(
      "invalid-argument",
      `environment ${envId} already exists; public_base_url is applied only when init creates it`,
      {
        path: "public_base_url",
        hint: 'change it with `op env update` (public_base_url: {"value": ...})',
      },
    );
  }
  const next = clone(existing);
  const bound = new Set(next.packs.map((p) => p.slot));
  const added: PackSlot[] = [];
  const healable: PackSlot[] = [];
  for (const b of LOCAL_DEFAULT_BINDINGS) {
    if (bound.has(b.slot)) continue;
    if (payload.heal === true || REFERENCE_DEFAULT_SLOTS.has(b.slot)) {
      next.packs.push(defaultBinding(b.slot, b.kind));
      added.push(b.slot);
    } else healable.push(b.slot);
  }
  if (added.length === 0) {
    const result = summary(existing, "untouched");
    return finish(existing, healable.length === 0 ? result : { ...result, healable_slots: healable });
  }
  return finish(next, summary(next, "healed", added));
}
