import { readdir, rename, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { GreenticError, type AuditActor, type Environment } from "@greentic/deploy-spec/documents";
import { localActor } from "./authorize.js";
import { assertSafeEnvId } from "./env-id.js";
import { errnoCode, fsyncDir, readIfExists } from "./fs-safe.js";
import type { LocalFsStore } from "./local-fs-store.js";
import type {
  MigrateDevApplied,
  MigrateDevCheck,
  MigrateStateApplied,
  MigrateStateCheck,
  MigrationFinding,
} from "./types.js";

const DEV = "dev";

function checkMode(mode: unknown): asserts mode is "check" | "apply" {
  if (mode !== "check" && mode !== "apply") {
    throw new GreenticError(
      "invalid-argument",
      `migration mode must be "check" or "apply", got ${JSON.stringify(mode)}`,
      { hint: "pass exactly one of --check or --apply" },
    );
  }
}

async function scanDev(
  store: LocalFsStore,
  target: string,
): Promise<{ check: MigrateDevCheck; dev: Environment | undefined }> {
  const findings: MigrationFinding[] = [];
  const location = join(store.root, DEV, "environment.json");
  let dev: Environment | undefined;
  if ((await readIfExists(location).catch(() => Buffer.from("\0"))) !== undefined) {
    try {
      dev = (await store.load(DEV)).environment;
      const complex =
        dev.bundles.length > 0 ||
        dev.revisions.length > 0 ||
        dev.traffic_splits.length > 0 ||
        dev.credentials_ref !== undefined;
      findings.push(
        complex
          ? {
              kind: "legacy-env-complex",
              severity: "blocking",
              location,
              message:
                "the dev environment has bundles, revisions, traffic splits or credentials; migrate them by hand first",
            }
          : {
              kind: "legacy-env-simple",
              severity: "info",
              location,
              message: `the dev environment's pack bindings and extensions can be merged into ${target}`,
            },
      );
    } catch (error) {
      findings.push({
        kind: "legacy-env-unreadable",
        severity: "blocking",
        location,
        message: `the dev environment cannot be read: ${(error as Error).message}`,
      });
    }
  }
  if (process.env.GREENTIC_ENV === DEV) {
    findings.push({
      kind: "runtime-config",
      severity: "info",
      location: "GREENTIC_ENV",
      message: `GREENTIC_ENV is "dev"; set it to ${JSON.stringify(target)} after migrating`,
    });
  }
  findings.push({
    kind: "secrets-store",
    severity: "info",
    location: "secrets",
    message: "secrets are not migrated (deferred)",
  });
  findings.push({
    kind: "audit-log",
    severity: "info",
    location: join(store.root, DEV, "audit"),
    message: "the dev audit log stays with the renamed dev directory (deferred)",
  });
  return {
    check: { from_env: DEV, to_env: target, clean: findings.every((f) => f.severity !== "blocking"), findings },
    dev,
  };
}

/** Fills only the bindings and extensions `into` lacks; returns what was added. */
function mergeBindings(
  into: Environment,
  from: Environment,
): { environment: Environment; slots: string[]; extensions: string[] } {
  const env = structuredClone(into);
  const slots: string[] = [];
  const extensions: string[] = [];
  for (const binding of from.packs) {
    if (env.packs.some((b) => b.slot === binding.slot)) continue;
    env.packs.push(structuredClone(binding));
    slots.push(binding.slot);
  }
  const keyOf = (e: Environment["extensions"][number]): string => `${e.kind.split("@")[0]}#${e.instance_id ?? ""}`;
  for (const ext of from.extensions) {
    if (env.extensions.some((e) => keyOf(e) === keyOf(ext))) continue;
    env.extensions.push(structuredClone(ext));
    extensions.push(keyOf(ext).replace(/#$/u, ""));
  }
  return { environment: env, slots, extensions };
}

/**
 * `env migrate-dev`: check scans the legacy `dev` environment; apply merges its bindings and
 * extensions into `target` (filling only what is missing, creating `target` if needed) and
 * renames `<root>/dev` to `<root>/.dev-migrated-<ts>`.
 */
export async function migrateDev(
  store: LocalFsStore,
  target: string,
  options: { mode: "check" | "apply"; actor?: AuditActor | undefined },
): Promise<MigrateDevCheck | MigrateDevApplied> {
  assertSafeEnvId(target, "target environment id");
  checkMode(options?.mode);
  if (target === DEV) {
    throw new GreenticError("invalid-argument", 'migrate-dev target must differ from the source environment "dev"', {
      hint: "pass the environment to migrate into, e.g. local",
    });
  }
  const { check, dev } = await scanDev(store, target);
  if (options.mode === "check") return check;
  if (!check.clean) {
    const blocking = check.findings.filter((f) => f.severity === "blocking");
    throw new GreenticError(
      "conflict",
      `migrate-dev into ${target} is blocked: ${blocking.map((f) => `${f.kind} (${f.message})`).join("; ")}`,
      {
        hint: "run migrate-dev in check mode and resolve the blocking findings first",
        details: { findings: check.findings },
      },
    );
  }
  if (!dev) return { from_env: DEV, to_env: target, merged_slots: [], merged_extensions: [] };
  const actor = options.actor ?? localActor();
  const devAnswers = new Map<string, unknown>();
  for (const binding of dev.packs) {
    const answers = await store.loadPackAnswers(DEV, binding.slot);
    if (answers !== undefined) devAnswers.set(binding.slot, answers);
  }
  const { result } = await store.transact(
    target,
    async (current, ctx) => {
      const seed: Environment = current ?? {
        schema: "greentic.environment.v1",
        environment_id: target,
        name: target,
        host_config: { ...dev.host_config, env_id: target },
        packs: [],
        bundles: [],
        revisions: [],
        traffic_splits: [],
        messaging_endpoints: [],
        extensions: [],
        revocation: structuredClone(dev.revocation),
        retention: structuredClone(dev.retention),
        health: { state: "unknown" },
      };
      const merged = mergeBindings(seed, dev);
      for (const slot of merged.slots) {
        if (devAnswers.has(slot) && (await ctx.packAnswers(slot)) === undefined)
          ctx.setPackAnswers(slot, devAnswers.get(slot));
      }
      return {
        environment: merged.environment,
        result: { merged_slots: merged.slots, merged_extensions: merged.extensions, created: current === undefined },
      };
    },
    {
      noun: "env",
      verb: "migrate-dev",
      actor,
      create: true,
      target: { from_env: DEV, to_env: target },
      request: { from_env: DEV, to_env: target },
    },
  );
  const renamed = await store.renameAside(DEV, ".dev-migrated-");
  const out: MigrateDevApplied = {
    from_env: DEV,
    to_env: target,
    merged_slots: result.merged_slots,
    merged_extensions: result.merged_extensions,
  };
  if (renamed !== undefined) out.legacy_dir_renamed_to = renamed;
  return out;
}

async function scanState(envId: string, stateDir: string): Promise<MigrateStateCheck> {
  const findings: MigrationFinding[] = [];
  const tree = join(stateDir, "deploy");
  let leafCount = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      findings.push({
        kind: "legacy-deploy-unreadable",
        severity: "blocking",
        location: dir,
        message: `cannot read ${dir}: ${(error as Error).message}`,
      });
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else leafCount++;
    }
  };
  let st;
  try {
    st = await stat(tree);
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") {
      findings.push({
        kind: "legacy-deploy-unreadable",
        severity: "blocking",
        location: tree,
        message: `cannot inspect ${tree}: ${(error as Error).message}`,
      });
    }
  }
  if (st && !st.isDirectory()) {
    findings.push({
      kind: "legacy-deploy-unreadable",
      severity: "blocking",
      location: tree,
      message: `${tree} is not a directory`,
    });
  } else if (st) {
    await walk(tree);
    findings.unshift({
      kind: "legacy-deploy-tree",
      severity: "info",
      location: tree,
      message: `legacy deploy tree with ${leafCount} file(s); apply renames it aside`,
    });
  }
  return {
    env_id: envId,
    state_dir: stateDir,
    clean: findings.every((f) => f.severity !== "blocking"),
    leaf_count: leafCount,
    findings,
  };
}

/**
 * `env migrate-state`: check scans `<stateDir>/deploy/` (default `~/.greentic/state`); apply,
 * under `<stateDir>/.migrate-state.lock`, renames it to `.deploy-migrated-<ts>/` (nothing is
 * copied) and re-scans; anything left is a `conflict`. The apply is audited on `envId`.
 */
export async function migrateState(
  store: LocalFsStore,
  envId: string,
  options: { mode: "check" | "apply"; stateDir?: string | undefined; actor?: AuditActor | undefined },
): Promise<MigrateStateCheck | MigrateStateApplied> {
  assertSafeEnvId(envId);
  checkMode(options?.mode);
  const stateDir = resolve(
    options.stateDir ?? join(process.env.GREENTIC_HOME ?? join(homedir(), ".greentic"), "state"),
  );
  const check = await scanState(envId, stateDir);
  if (options.mode === "check") return check;
  if (!check.clean) {
    throw new GreenticError(
      "conflict",
      `migrate-state for ${envId} is blocked: ${check.findings
        .filter((f) => f.severity === "blocking")
        .map((f) => f.message)
        .join("; ")}`,
      {
        hint: "run migrate-state in check mode and fix the blocking findings",
        details: { findings: check.findings },
      },
    );
  }
  const tree = join(stateDir, "deploy");
  const out: MigrateStateApplied = { env_id: envId, state_dir: stateDir, scanned_paths_count: check.leaf_count };
  if (!check.findings.some((f) => f.kind === "legacy-deploy-tree")) return out;
  const target = { state_dir: stateDir, leaf_count: check.leaf_count };
  await store.auditAction(envId, options.actor ?? localActor(), "env", "migrate-state", target, async () => {
    let release: (() => Promise<void>) | undefined;
    const { default: lockfile } = await import("proper-lockfile");
    try {
      release = await lockfile.lock(join(stateDir, ".migrate-state"), {
        realpath: false,
        stale: 10_000,
        retries: 0,
        onCompromised: () => {},
      });
    } catch (error) {
      throw new GreenticError(
        "locked",
        `another migrate-state holds ${join(stateDir, ".migrate-state.lock")}: ${(error as Error).message}`,
        { hint: "wait for it to finish" },
      );
    }
    try {
      const name = `.deploy-migrated-${new Date().toISOString().replace(/[-:.]/gu, "")}`;
      await rename(tree, join(stateDir, name));
      await fsyncDir(stateDir);
      out.legacy_dir_renamed_to = name;
      const after = await scanState(envId, stateDir);
      if (after.findings.length > 0) {
        throw new GreenticError(
          "conflict",
          `${tree} reappeared after it was renamed aside; a deploy may still be running`,
          { hint: "stop live deploys and run migrate-state again" },
        );
      }
    } finally {
      await release();
    }
  });
  return out;
}
