import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, lstat, mkdir, open, readFile, readdir, realpath, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { hashFile } from "@greentic/io-kit";
import { z } from "zod";
import { parseListenAddress } from "./listen-address.js";
import type { LocalRouteDeployment, LocalRouterStatsFile } from "./local-router.js";
import { isAlive, isOurProcess, stopProcess } from "./process-utils.js";
import { isSingleExecutable, type LocalRole, type RoleCommand, roleCommandFor, selfRoleCommand } from "./roles.js";
import {
  ProcessRecordSchema,
  SplitsDocumentSchema,
  StageRecordSchema,
  type ProcessRecord,
  type SplitsDocument,
  type StageRecord,
} from "./records.js";
import { rotateLog, type LaunchSpec } from "./supervisor.js";
// @greentic/bundle (tar) and @greentic/runtime (x509) are imported where a revision is staged
// or warmed, not at top level: read-only verbs load this module and must start fast.
import {
  DEFAULT_ROUTER_LISTEN,
  defaultRouterBin,
  localRouterStatus,
  normaliseRouterListen,
  stopLocalRouter,
  syncLocalRouter,
  type LocalRouterStatus,
} from "./local-process-router.js";
import {
  checkTrafficSplit,
  readJsonDocument,
  readJsonFile,
  toAppliedRuntimeConfig,
  writeJsonFile,
  type Deployer,
  type EnvPackHandler,
  type HandlerContext,
  type HealthGateOutcome,
  type PreflightCheck,
  type RevisionRef,
  type RevisionMetricsReport,
  type RevisionRuntimeStatus,
  type StatusOptions,
} from "@greentic/env-packs";

/** Options of the local-process deployer. */
export interface LocalProcessOptions {
  /** The runtime entry script; default: `dist/bin.js` of the installed `@greentic/runtime`. */
  runtimeBin?: string;
  /** Default health-gate timeout of `warm`. */
  warmTimeoutMs?: number;
  /** How long a stopped runtime may take after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
  /**
   * Size (bytes) at which the router rotates revision and router logs; default
   * `GREENTIC_LOCAL_LOG_ROTATE_BYTES`, else 10 MiB. At least 4096.
   */
  logRotateBytes?: number;
  /** The router entry script; default: `GREENTIC_LOCAL_ROUTER_BIN`, else `dist/local-router-bin.js` of this package. */
  routerBin?: string;
}

/** Answers of the local-process deployer (`env-packs/deployer/answers.json`). */
export const LocalProcessAnswersSchema = z.strictObject({
  /** Health-gate timeout of `warm`, in seconds. */
  warm_timeout_seconds: z.number().int().min(1).max(3600).default(30),
  /** Grace period between SIGTERM and SIGKILL when stopping a revision, in seconds. */
  stop_grace_seconds: z.number().int().min(1).max(600).default(10),
  /**
   * Loopback `host:port` of the environment's router: the one URL that follows the traffic
   * split. Port 0 picks a free port (recorded; see `localRouterStatus`). Default `127.0.0.1:0`,
   * not the environment's `host_config.listen_addr`: that is `127.0.0.1:8080` for every local
   * environment, and several stores or environments on one machine would collide on it.
   */
  router_listen: z
    .string()
    .superRefine((value, check) => {
      try {
        parseListenAddress(value);
      } catch (error) {
        check.addIssue({ code: "custom", message: (error as Error).message });
      }
    })
    .optional(),
});
export type LocalProcessAnswers = z.output<typeof LocalProcessAnswersSchema>;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** The runtime's `dist/bin.js`, resolved from the installed `@greentic/runtime` package. */
export function defaultRuntimeBin(): string {
  // Resolved from this package's own directory, where the runtime is a dependency, also when
  // this module is bundled into another package (op's dist/) that does not depend on it.
  const self = createRequire(import.meta.url).resolve("@greentic/deployer-local/package.json");
  const pkg = createRequire(self).resolve("@greentic/runtime/package.json");
  return join(dirname(pkg), "dist", "bin.js");
}

function checkId(value: string, field: string): void {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new GreenticError("invalid-argument", `${field} ${JSON.stringify(value)} is not a valid id`, {
      path: field,
      hint: "revision and deployment ids are ULIDs (letters, digits, '_' and '-')",
    });
  }
}

/** The slot's answers, checked: invalid answers are refused before anything is touched. */
function answersOf(ctx: HandlerContext): LocalProcessAnswers | undefined {
  if (ctx.answers === undefined) return undefined;
  const parsed = LocalProcessAnswersSchema.safeParse(ctx.answers);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.join("."),
    code: issue.code,
    message: issue.message,
  }));
  throw new GreenticError(
    "validation",
    `local-process answers: ${issues[0]?.path || "(document)"}: ${issues[0]?.message}`,
    {
      path: "env-packs/deployer/answers.json",
      hint: "fix env-packs/deployer/answers.json (see op env-packs schema greentic.deployer.local-process)",
      issues,
    },
  );
}

/** Gives write permission back to a tree made read-only for the runtime, so it can be removed. */
async function makeWritable(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined || info.isSymbolicLink()) return;
  await chmod(path, (info.mode & 0o777) | 0o200);
  if (info.isDirectory()) {
    for (const name of await readdir(path)) await makeWritable(join(path, name));
  }
}

/** Removes write permission everywhere in a tree: the runtime refuses a writable bundle. */
async function makeReadOnly(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    for (const name of await readdir(path)) await makeReadOnly(join(path, name));
  }
  await chmod(path, info.mode & 0o555);
}

async function removeTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  await makeWritable(path);
  await rm(path, { recursive: true, force: true });
}

async function tailLog(file: string, lines = 8): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The local-process deployer: each warmed revision is a detached runtime process on loopback. */
export class LocalProcessDeployer implements Deployer {
  readonly #options: LocalProcessOptions;

  constructor(options: LocalProcessOptions = {}) {
    this.#options = options;
  }

  /** How this deployer starts a runtime: the `runtimeBin` option, GREENTIC_RUNTIME_BIN, else the default (roles.ts). */
  runtimeCommand(): RoleCommand {
    return this.#roleCommand("runtime", this.#options.runtimeBin, "GREENTIC_RUNTIME_BIN", defaultRuntimeBin);
  }

  /** How this deployer starts the router (one per environment): `routerBin`, GREENTIC_LOCAL_ROUTER_BIN, else the default. */
  routerCommand(): RoleCommand {
    return this.#roleCommand("router", this.#options.routerBin, "GREENTIC_LOCAL_ROUTER_BIN", defaultRouterBin);
  }

  /** The runtime program this deployer starts. */
  runtimeBin(): string {
    return this.runtimeCommand().bin;
  }

  #roleCommand(role: LocalRole, option: string | undefined, variable: string, script: () => string): RoleCommand {
    if (option !== undefined) return roleCommandFor(option, `${role}Bin`);
    const fromEnv = process.env[variable];
    if (fromEnv !== undefined && fromEnv !== "") return roleCommandFor(fromEnv, variable);
    // The single-file op is its own runtime and router; it has no package directory to look in.
    return isSingleExecutable() ? selfRoleCommand(role) : roleCommandFor(script(), variable);
  }

  /** The environment's router: `{state, pid, url, ...}`; `url` is the environment's stable URL. */
  async routerStatus(ctx: HandlerContext): Promise<LocalRouterStatus> {
    return localRouterStatus(ctx);
  }

  /** Where logs are rotated, or undefined for the router's default (10 MiB). */
  #logRotateBytes(): number | undefined {
    const value = this.#options.logRotateBytes ?? Number(process.env.GREENTIC_LOCAL_LOG_ROTATE_BYTES ?? Number.NaN);
    return Number.isInteger(value) && value >= 4096 ? value : undefined;
  }

  #stopGraceMs(ctx: HandlerContext): number {
    return this.#options.stopGraceMs ?? (answersOf(ctx)?.stop_grace_seconds ?? 10) * 1000;
  }

  /** The applied splits with each revision's public port (`null` when it is not running). */
  async #routes(ctx: HandlerContext, splits: SplitsDocument["splits"]): Promise<LocalRouteDeployment[]> {
    const out: LocalRouteDeployment[] = [];
    for (const deploymentId of Object.keys(splits).sort()) {
      const split = splits[deploymentId]!;
      const entries = [];
      for (const { revision_id, weight_bps } of split.entries) {
        const record = await this.#processRecord(ctx, revision_id);
        const up =
          record !== undefined &&
          record.public_port !== null &&
          (await isOurProcess(record.pid, record.runtime_bin, revision_id));
        entries.push({ revision_id, weight_bps, port: up ? record.public_port : null });
      }
      out.push({
        deployment_id: deploymentId,
        bundle_id: split.bundle_id,
        entries,
        ...(split.route === undefined ? {} : { hosts: split.route.hosts, path_prefixes: split.route.path_prefixes }),
      });
    }
    return out;
  }

  /**
   * Brings the router in line with `splits` and the revisions' current ports. With `start`
   * false only a running router is refreshed (after a warm or a drain moved a port).
   */
  async #syncRouter(
    ctx: HandlerContext,
    splits: SplitsDocument["splits"],
    start: boolean,
  ): Promise<LocalRouterStatus | undefined> {
    const listen = normaliseRouterListen(answersOf(ctx)?.router_listen ?? DEFAULT_ROUTER_LISTEN);
    return syncLocalRouter(ctx, await this.#routes(ctx, splits), {
      router: this.routerCommand(),
      listen,
      start,
      stopGraceMs: this.#stopGraceMs(ctx),
      processesDir: await ctx.dataDir("processes"),
      ...(this.#logRotateBytes() === undefined ? {} : { rotateBytes: this.#logRotateBytes() }),
      ...(ctx.runtimeConfigFile === undefined
        ? {}
        : { desired: { desiredFile: ctx.runtimeConfigFile, splitsFile: await this.#splitsFile(ctx) } }),
    });
  }

  /** Refreshes a running router's ports; a failure is logged, not thrown (the revision itself is fine). */
  async #refreshRouter(ctx: HandlerContext, start = false): Promise<void> {
    try {
      await this.#syncRouter(ctx, (await this.#readSplits(ctx)).splits, start);
    } catch (error) {
      ctx.log?.({ event: "local-process.router-refresh-failed", level: "warn", message: (error as Error).message });
    }
  }

  // Paths in the data areas: `create: false` for readers, which never create a directory (a
  // read verb writes nothing and works on a read-only store).
  async #revisionDir(ctx: HandlerContext, revisionId: string, options: { create?: boolean } = {}): Promise<string> {
    checkId(revisionId, "revision_id");
    return join(await ctx.dataDir("revisions", options), revisionId);
  }

  async #stageRecord(ctx: HandlerContext, revisionId: string): Promise<StageRecord | undefined> {
    const dir = await this.#revisionDir(ctx, revisionId, { create: false });
    return readJsonDocument(join(dir, "stage.json"), StageRecordSchema);
  }

  async #archivedFile(ctx: HandlerContext, revisionId: string, options: { create?: boolean } = {}): Promise<string> {
    return join(await ctx.dataDir("archived", options), `${revisionId}.json`);
  }

  /** The stage record, or `not-found` naming the revision (and saying when it was archived). */
  async #requireStaged(ctx: HandlerContext, revision: RevisionRef): Promise<StageRecord> {
    const record = await this.#stageRecord(ctx, revision.revision_id);
    if (record !== undefined) return record;
    const archived = existsSync(await this.#archivedFile(ctx, revision.revision_id, { create: false }));
    throw new GreenticError(
      "not-found",
      archived
        ? `revision ${revision.revision_id} was archived in environment ${ctx.envId}`
        : `revision ${revision.revision_id} is not staged in environment ${ctx.envId}`,
      {
        hint: archived ? "stage a new revision of the bundle" : "stage the revision first (op revisions stage)",
        details: { code: "unknown-revision", revision_id: revision.revision_id },
      },
    );
  }

  async #processFile(ctx: HandlerContext, revisionId: string, options: { create?: boolean } = {}): Promise<string> {
    return join(await ctx.dataDir("processes", options), `${revisionId}.json`);
  }

  async #processRecord(ctx: HandlerContext, revisionId: string): Promise<ProcessRecord | undefined> {
    return readJsonDocument(await this.#processFile(ctx, revisionId, { create: false }), ProcessRecordSchema);
  }

  /** Stops the recorded process (only if it is really ours) and removes the record. */
  async #stop(ctx: HandlerContext, revisionId: string): Promise<boolean> {
    const file = await this.#processFile(ctx, revisionId);
    const record = await readJsonDocument(file, ProcessRecordSchema);
    if (record === undefined) return false;
    const ours = await isOurProcess(record.pid, record.runtime_bin, revisionId);
    // The record goes first: the router's supervisor restarts any recorded process that exits.
    await rm(file, { force: true });
    if (ours) await stopProcess(record.pid, this.#stopGraceMs(ctx));
    ctx.log?.({ event: "local-process.stopped", revision_id: revisionId, pid: record.pid, was_running: ours });
    return ours;
  }

  /** The environment's admin certificates directory (`ca.crt`, `client.crt`, `client.key`, server pair). */
  async #adminTlsDir(ctx: HandlerContext): Promise<string> {
    const root = await ctx.dataDir("admin-tls");
    const dir = join(root, "current");
    if (!existsSync(join(dir, "client.key"))) {
      // Generate into a private temp dir and rename, so a concurrent warm never sees half a set.
      const temp = join(root, `.tmp-${randomBytes(6).toString("hex")}`);
      await mkdir(temp, { mode: 0o700 });
      await (await import("@greentic/runtime")).createAdminCertificates(temp);
      try {
        await rename(temp, dir);
      } catch {
        await rm(temp, { recursive: true, force: true });
      }
    }
    return dir;
  }

  async stage(ctx: HandlerContext, request: { revision: RevisionRef; bundlePath: string }) {
    const { revision, bundlePath } = request;
    checkId(revision.deployment_id, "deployment_id");
    const dir = await this.#revisionDir(ctx, revision.revision_id);
    if (!existsSync(bundlePath)) {
      throw new GreenticError("not-found", `bundle file ${bundlePath} does not exist`, {
        path: bundlePath,
        hint: "build the bundle first (op bundles build)",
      });
    }
    const existing = await this.#stageRecord(ctx, revision.revision_id);
    if (existing !== undefined) {
      const digest = `sha256:${(await hashFile(bundlePath)).sha256}`;
      if (existing.bundle_digest !== digest || existing.deployment_id !== revision.deployment_id) {
        throw new GreenticError(
          "conflict",
          `revision ${revision.revision_id} is already staged with bundle ${existing.bundle_digest} for deployment ${existing.deployment_id}`,
          {
            hint: "revisions are immutable: stage the new bundle as a new revision",
            details: {
              revision_id: revision.revision_id,
              staged_digest: existing.bundle_digest,
              requested_digest: digest,
            },
          },
        );
      }
      return {
        revision_id: revision.revision_id,
        bundle_digest: existing.bundle_digest,
        location: dir,
        unchanged: true,
      };
    }
    // A directory without stage.json is a stage that died half-way: start over.
    await removeTree(dir);
    await mkdir(dir, { recursive: true });
    let staged;
    try {
      staged = await (await import("@greentic/bundle")).stageBundle(bundlePath, dir);
      await makeReadOnly(staged.bundleDir);
      const record: StageRecord = {
        revision_id: revision.revision_id,
        deployment_id: revision.deployment_id,
        bundle_id: revision.bundle_id,
        bundle_digest: staged.digest,
        staged_at: new Date().toISOString(),
      };
      await writeJsonFile(join(dir, "stage.json"), record);
    } catch (error) {
      // The directory is this call's (a staged one returned above; a half-staged one was just
      // replaced): a refused bundle (not squashfs, hostile, leaking) leaves nothing behind.
      await removeTree(dir).catch(() => undefined);
      throw error;
    }
    ctx.log?.({ event: "local-process.staged", revision_id: revision.revision_id, bundle_digest: staged.digest });
    return { revision_id: revision.revision_id, bundle_digest: staged.digest, location: dir, unchanged: false };
  }

  async warm(ctx: HandlerContext, request: { revision: RevisionRef; timeoutMs?: number }): Promise<HealthGateOutcome> {
    const { revision } = request;
    const answers = answersOf(ctx);
    const timeoutMs = request.timeoutMs ?? this.#options.warmTimeoutMs ?? (answers?.warm_timeout_seconds ?? 30) * 1000;
    await this.#requireStaged(ctx, revision);
    const deadline = Date.now() + timeoutMs;
    const tlsDir = await this.#adminTlsDir(ctx);

    const current = await this.#processRecord(ctx, revision.revision_id);
    if (current !== undefined) {
      if (await isOurProcess(current.pid, current.runtime_bin, revision.revision_id)) {
        const gate = await this.#waitReady(ctx, current, tlsDir, deadline);
        if (gate.ok) return gate;
      }
      await this.#stop(ctx, revision.revision_id);
    }

    const dir = await this.#revisionDir(ctx, revision.revision_id);
    const run = join(dir, "run");
    const dirs = {
      state: join(run, "state"),
      cache: join(run, "cache"),
      log: join(run, "log"),
      temp: join(run, "tmp"),
    };
    // A fresh state dir: a stale listen.json from an earlier run must not be mistaken for this one.
    await rm(run, { recursive: true, force: true });
    for (const path of Object.values(dirs)) await mkdir(path, { recursive: true, mode: 0o700 });
    const logFile = join(dir, "runtime.log");
    const command = this.runtimeCommand();
    const bin = await realpath(command.bin).catch(() => command.bin);
    if (!existsSync(bin)) {
      return {
        ok: false,
        failure: {
          failed_checks: ["process-start"],
          message: `the runtime ${bin} does not exist; build @greentic/runtime first`,
        },
      };
    }
    await rotateLog(logFile, this.#logRotateBytes());
    const log = await open(logFile, "a", 0o600);
    let pid: number | undefined;
    const launch: LaunchSpec = {
      argv: command.argv.map((arg) => (arg === command.bin ? bin : arg)),
      cwd: run,
      listen_file: join(dirs.state, "listen.json"),
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GREENTIC_BUNDLE_DIR: join(dir, "bundle"),
        GREENTIC_STATE_DIR: dirs.state,
        GREENTIC_CACHE_DIR: dirs.cache,
        GREENTIC_LOG_DIR: dirs.log,
        GREENTIC_TEMP_DIR: dirs.temp,
        GREENTIC_PUBLIC_BIND: "127.0.0.1:0",
        GREENTIC_ADMIN_BIND: "127.0.0.1:0",
        GREENTIC_ADMIN_CA_FILE: join(tlsDir, "ca.crt"),
        GREENTIC_ADMIN_CERT_FILE: join(tlsDir, "server.crt"),
        GREENTIC_ADMIN_KEY_FILE: join(tlsDir, "server.key"),
        GREENTIC_REVISION_ID: revision.revision_id,
      },
    };
    try {
      const child = spawn(launch.argv[0]!, launch.argv.slice(1), {
        detached: true,
        stdio: ["ignore", log.fd, log.fd],
        cwd: launch.cwd,
        env: launch.env,
      });
      child.on("error", () => {});
      child.unref();
      pid = child.pid;
    } finally {
      await log.close();
    }
    if (pid === undefined) {
      return {
        ok: false,
        failure: { failed_checks: ["process-start"], message: `could not start ${launch.argv.join(" ")}` },
      };
    }
    const record: ProcessRecord = {
      revision_id: revision.revision_id,
      deployment_id: revision.deployment_id,
      pid,
      public_port: null,
      admin_port: null,
      started_at: new Date().toISOString(),
      log: logFile,
      runtime_bin: bin,
      launch,
    };
    await writeJsonFile(await this.#processFile(ctx, revision.revision_id), record);
    ctx.log?.({ event: "local-process.started", revision_id: revision.revision_id, pid });

    const listen = await this.#waitListen(record, dirs.state, deadline);
    if (!listen.ok) {
      await this.#stop(ctx, revision.revision_id);
      return listen;
    }
    record.public_port = listen.publicPort;
    record.admin_port = listen.adminPort;
    await writeJsonFile(await this.#processFile(ctx, revision.revision_id), record);
    const gate = await this.#waitReady(ctx, record, tlsDir, deadline);
    if (!gate.ok) await this.#stop(ctx, revision.revision_id);
    // Starts the router if none runs yet: it supervises this revision from now on.
    else await this.#refreshRouter(ctx, true);
    return gate;
  }

  async #waitListen(
    record: ProcessRecord,
    stateDir: string,
    deadline: number,
  ): Promise<
    | { ok: true; publicPort: number; adminPort: number }
    | { ok: false; failure: { failed_checks: string[]; message: string } }
  > {
    const file = join(stateDir, "listen.json");
    while (Date.now() < deadline) {
      const listen = (await readJsonFile(file).catch(() => undefined)) as
        | { pid?: number; public?: { port?: number }; admin?: { port?: number } }
        | undefined;
      if (typeof listen?.public?.port === "number" && typeof listen.admin?.port === "number") {
        return { ok: true, publicPort: listen.public.port, adminPort: listen.admin.port };
      }
      if (!(await isAlive(record.pid))) {
        return {
          ok: false,
          failure: {
            failed_checks: ["process-start"],
            message: `the runtime exited before listening; last log lines:\n${await tailLog(record.log)}`,
          },
        };
      }
      await sleep(100);
    }
    return {
      ok: false,
      failure: {
        failed_checks: ["listen"],
        message: `the runtime did not report its listeners (listen.json) in time; see ${record.log}`,
      },
    };
  }

  // Not the runtime's waitForReady: between probes this also notices a runtime that exited.
  async #waitReady(
    ctx: HandlerContext,
    record: ProcessRecord,
    certDir: string,
    deadline: number,
  ): Promise<HealthGateOutcome> {
    let last = "no answer yet";
    do {
      if (record.admin_port === null) break;
      try {
        const { status, body } = await (await import("@greentic/runtime")).adminRequest({
          address: { host: "127.0.0.1", port: record.admin_port },
          path: "/ready",
          certDir,
          timeoutMs: 2_000,
        });
        if (status === 200) {
          ctx.log?.({ event: "local-process.ready", revision_id: record.revision_id, pid: record.pid });
          return { ok: true, url: `http://127.0.0.1:${record.public_port}/` };
        }
        last = `GET /ready answered ${status} ${body.slice(0, 200)}`;
      } catch (error) {
        last = (error as Error).message;
      }
      if (!(await isAlive(record.pid))) {
        return {
          ok: false,
          failure: {
            failed_checks: ["readiness"],
            message: `the runtime exited; last log lines:\n${await tailLog(record.log)}`,
          },
        };
      }
      await sleep(150);
    } while (Date.now() < deadline);
    return {
      ok: false,
      failure: {
        failed_checks: ["readiness"],
        message: `the runtime was not ready before the timeout (${last}); see ${record.log}`,
      },
    };
  }

  async drain(ctx: HandlerContext, revision: RevisionRef): Promise<void> {
    await this.#requireStaged(ctx, revision);
    const record = await this.#processRecord(ctx, revision.revision_id);
    if (record === undefined) return;
    if (record.admin_port !== null && (await isOurProcess(record.pid, record.runtime_bin, revision.revision_id))) {
      // Best effort: the runtime stops reporting ready and finishes in-flight requests; SIGTERM follows.
      const certDir = await this.#adminTlsDir(ctx);
      await (await import("@greentic/runtime"))
        .adminRequest({
          address: { host: "127.0.0.1", port: record.admin_port },
          path: "/admin/v1/drain",
          method: "POST",
          certDir,
          timeoutMs: 5_000,
        })
        .catch(() => undefined);
    }
    await this.#stop(ctx, revision.revision_id);
    // The router must not keep sending requests to a port another process may take next.
    await this.#refreshRouter(ctx);
  }

  /** Removes a staged revision that was never recorded (no archived marker); unknown: nothing to do. */
  async unstage(ctx: HandlerContext, revision: RevisionRef): Promise<void> {
    await removeTree(await this.#revisionDir(ctx, revision.revision_id));
    ctx.log?.({ event: "local-process.unstaged", revision_id: revision.revision_id });
  }

  async archive(ctx: HandlerContext, revision: RevisionRef): Promise<void> {
    const archivedFile = await this.#archivedFile(ctx, revision.revision_id);
    const staged = await this.#stageRecord(ctx, revision.revision_id);
    if (staged === undefined) {
      if (existsSync(archivedFile)) return;
      await this.#requireStaged(ctx, revision);
    }
    const splits = await this.#readSplits(ctx);
    for (const [deploymentId, split] of Object.entries(splits.splits)) {
      if (split.entries.some((entry) => entry.revision_id === revision.revision_id)) {
        throw new GreenticError(
          "conflict",
          `revision ${revision.revision_id} still receives traffic in deployment ${deploymentId}`,
          {
            hint: "rebalance traffic away from it first (op traffic set)",
            details: { revision_id: revision.revision_id, deployment_id: deploymentId },
          },
        );
      }
    }
    await this.#stop(ctx, revision.revision_id);
    await writeJsonFile(archivedFile, { revision_id: revision.revision_id, archived_at: new Date().toISOString() });
    await removeTree(await this.#revisionDir(ctx, revision.revision_id));
    ctx.log?.({ event: "local-process.archived", revision_id: revision.revision_id });
  }

  async #splitsFile(ctx: HandlerContext, options: { create?: boolean } = {}): Promise<string> {
    return join(await ctx.dataDir("traffic", options), "splits.json");
  }

  async #readSplits(ctx: HandlerContext): Promise<SplitsDocument> {
    const doc = await readJsonDocument(await this.#splitsFile(ctx, { create: false }), SplitsDocumentSchema);
    return doc ?? { schema: "greentic.local-process.splits.v1", splits: {} };
  }

  async applyTrafficSplit(ctx: HandlerContext, request: Parameters<Deployer["applyTrafficSplit"]>[1]) {
    normaliseRouterListen(answersOf(ctx)?.router_listen ?? DEFAULT_ROUTER_LISTEN);
    const revisions = checkTrafficSplit(request);
    for (const revision of revisions) await this.#requireStaged(ctx, revision);
    const doc = await this.#readSplits(ctx);
    const { split } = request;
    doc.splits[split.deployment_id] = {
      bundle_id: split.bundle_id,
      ...(split.generation === undefined ? {} : { generation: split.generation }),
      ...(split.route === undefined
        ? {}
        : { route: { hosts: [...split.route.hosts], path_prefixes: [...split.route.path_prefixes] } }),
      entries: split.entries.map(({ revision_id, weight_bps }) => ({ revision_id, weight_bps })),
    };
    // The router goes first: the split is recorded only once it is served (or no router can run).
    try {
      await this.#syncRouter(ctx, doc.splits, true);
    } catch (error) {
      if ((error as GreenticError).details?.code !== "router-missing") throw error;
      ctx.log?.({
        event: "local-process.router-unavailable",
        level: "warn",
        message: (error as GreenticError).message,
        hint: (error as GreenticError).hint,
      });
    }
    await writeJsonFile(await this.#splitsFile(ctx), doc);
    ctx.log?.({ event: "local-process.traffic-applied", deployment_id: split.deployment_id });
    return toAppliedRuntimeConfig(ctx.envId, doc.splits);
  }

  async runtimeConfig(ctx: HandlerContext) {
    return toAppliedRuntimeConfig(ctx.envId, (await this.#readSplits(ctx)).splits);
  }

  async status(ctx: HandlerContext, options: StatusOptions = {}): Promise<RevisionRuntimeStatus[]> {
    const root = await ctx.dataDir("revisions", { create: false });
    const out: RevisionRuntimeStatus[] = [];
    const probes: Promise<void>[] = [];
    const names = await readdir(root).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return []; // nothing staged yet
      throw error;
    });
    for (const name of names.sort()) {
      if (!ID_PATTERN.test(name)) continue;
      const staged = await this.#stageRecord(ctx, name);
      if (staged === undefined) continue;
      const record = await this.#processRecord(ctx, name);
      const base = { revision_id: name, deployment_id: staged.deployment_id };
      const restarts = record?.restarts === undefined ? {} : { restarts: record.restarts };
      if (record === undefined) {
        out.push({ ...base, state: "stopped" });
      } else if (await isOurProcess(record.pid, record.runtime_bin, name)) {
        const entry: RevisionRuntimeStatus = {
          ...base,
          state: "running",
          pid: record.pid,
          ...(record.public_port === null ? {} : { url: `http://127.0.0.1:${record.public_port}/` }),
          ...(record.admin_port === null ? {} : { admin_url: `https://127.0.0.1:${record.admin_port}` }),
          started_at: record.started_at,
          log: record.log,
          ...restarts,
        };
        out.push(entry);
        if (options.probe === true)
          probes.push(this.#probeReady(ctx, record).then((ready) => void (entry.ready = ready)));
      } else {
        out.push({
          ...base,
          state: "failed",
          pid: record.pid,
          started_at: record.started_at,
          log: record.log,
          ...restarts,
        });
      }
    }
    await Promise.all(probes);
    return out;
  }

  /**
   * Requests and 5xx answers per revision, as the environment's router counted them since it
   * started (`router/stats.json`, rewritten twice a second while requests come in). A window
   * (`sinceMs` after the router's start) is summed from per-second counts kept for the last
   * 10 minutes; p99 is over the revision's last 1024 requests. Empty when no router runs.
   */
  async revisionMetrics(ctx: HandlerContext, options: { sinceMs: number }): Promise<RevisionMetricsReport[]> {
    const router = await localRouterStatus(ctx);
    if (router.state !== "running") return [];
    const stats = (await readJsonFile(join(await ctx.dataDir("router"), "stats.json")).catch(() => undefined)) as
      | LocalRouterStatsFile
      | undefined;
    if (stats === undefined || stats.pid !== router.pid) return [];
    const whole = options.sinceMs <= Date.parse(stats.started_at);
    return Object.entries(stats.revisions)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([revision_id, c]) => {
        let requests = c.requests;
        let errors = c.errors_5xx;
        if (!whole) {
          requests = 0;
          errors = 0;
          for (const [second, n, e] of c.seconds)
            if (second * 1000 >= Math.floor(options.sinceMs / 1000) * 1000) {
              requests += n;
              errors += e;
            }
        }
        const sorted = [...c.durations_ms].sort((x, y) => x - y);
        return {
          revision_id,
          requests,
          errors_5xx: errors,
          error_rate: requests === 0 ? 0 : errors / requests,
          p99_ms:
            sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!,
        };
      });
  }

  /** One readiness request to a running revision's admin endpoint (false on any failure). */
  async #probeReady(ctx: HandlerContext, record: ProcessRecord): Promise<boolean> {
    if (record.admin_port === null) return false;
    try {
      const { status } = await (await import("@greentic/runtime")).adminRequest({
        address: { host: "127.0.0.1", port: record.admin_port },
        path: "/ready",
        certDir: await this.#adminTlsDir(ctx),
        timeoutMs: 1_000,
      });
      return status === 200;
    } catch {
      return false;
    }
  }

  async destroy(ctx: HandlerContext) {
    const stopped: string[] = [];
    await stopLocalRouter(ctx, this.#stopGraceMs(ctx));
    const processes = await ctx.dataDir("processes");
    for (const name of (await readdir(processes)).sort()) {
      if (!name.endsWith(".json")) continue;
      const revisionId = name.slice(0, -".json".length);
      if (ID_PATTERN.test(revisionId) && (await this.#stop(ctx, revisionId))) stopped.push(revisionId);
    }
    for (const area of ["revisions", "processes", "traffic", "archived", "admin-tls", "router"]) {
      await removeTree(await ctx.dataDir(area));
    }
    ctx.log?.({ event: "local-process.destroyed", stopped });
    return { stopped };
  }
}

function localProcessPreflight(deployer: LocalProcessDeployer): PreflightCheck[] {
  return [
    {
      name: "node-version",
      timeoutMs: 1_000,
      installHint: "install Node.js 22 or newer (https://nodejs.org)",
      async run() {
        const major = Number(process.versions.node.split(".")[0]);
        return { ok: major >= 22, detail: `node ${process.versions.node} at ${process.execPath}` };
      },
    },
    {
      name: "runtime-built",
      timeoutMs: 1_000,
      installHint: isSingleExecutable()
        ? "unset GREENTIC_RUNTIME_BIN (this op runs the runtime itself) or name the greentic-runtime executable"
        : "build the runtime: pnpm --filter @greentic/runtime build (or set GREENTIC_RUNTIME_BIN)",
      async run() {
        let bin: string;
        try {
          bin = deployer.runtimeBin();
        } catch (error) {
          if (error instanceof GreenticError) return { ok: false, detail: error.message };
          return { ok: false, detail: `@greentic/runtime is not installed: ${(error as Error).message}` };
        }
        return existsSync(bin) ? { ok: true, detail: bin } : { ok: false, detail: `${bin} does not exist` };
      },
    },
  ];
}

/** `greentic.deployer.local-process`: revisions as detached runtime processes on this machine. */
export function localProcessDeployerHandler(options: LocalProcessOptions = {}): EnvPackHandler {
  const deployer = new LocalProcessDeployer(options);
  return {
    slot: "deployer",
    descriptorPath: "greentic.deployer.local-process",
    supportedVersions: "^0.1.0",
    description:
      "Runs each warmed revision as a local runtime process on a loopback port (kept running after the CLI exits).",
    answersSchema: LocalProcessAnswersSchema,
    deployer,
    credentials: {
      requirements: () => [],
      async validate() {
        const checks = await Promise.all(
          localProcessPreflight(deployer).map((check) => check.run(AbortSignal.timeout(check.timeoutMs))),
        );
        const missing = localProcessPreflight(deployer)
          .filter((_, index) => !checks[index]!.ok)
          .map((check) => check.name);
        return {
          result: missing.length === 0 ? "pass" : "fail",
          missing_capabilities: missing,
          checked_at: new Date().toISOString(),
        };
      },
    },
    preflight: () => localProcessPreflight(deployer),
  };
}
