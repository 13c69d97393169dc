// An environment bound to a VM over SSH: the single-VM answers name `ssh: user@host[:port]` and
// a pinned `known_hosts` file, and every deployer call (stage, warm, traffic, drain, archive,
// status, destroy, the rollout's figures) runs on the VM, made by the VM's own op.
//
// Why the call, not the files, crosses the wire: the deployer reads and writes the VM's files
// (units, the canary record, HAProxy's socket) and talks to loopback-only endpoints (the admin
// API over mTLS, HAProxy's stats). Run on the VM, the same code does the same thing as on a VM
// bound locally, and nothing loopback-only is ever exposed. The store stays on the operator's
// side (PostgreSQL or the local files); what the deployer remembers between calls (its record of
// staged revisions) is deployer-local data and stays on the VM, under
// /var/lib/greentic/envs/<env>/.
//
// One call is one SSH session through the connection's master (see ssh.ts): the operator's op
// writes one JSON line (the envelope) on the session's stdin, followed, for an upload, by the
// file's bytes; the VM's op (`op single-vm remote-call`, hidden) answers one JSON line on stdout.
// A bundle is sent once: `have` asks the VM for its digest first.
//
// Versions: the envelope carries the operator's op version and the VM's op refuses to act when
// its own differs (and the operator refuses an answer from a VM whose op is another version, or
// too old to know the call), so that one side never interprets the other's records.
//
// A login other than root runs the VM's op through `sudo -n`; the only command it needs is
// `/usr/local/bin/op single-vm remote-call` (docs/single-vm.md, "A non-root login").
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { checkEnvId, GreenticError, isGreenticError, type ErrorKind } from "@greentic/deploy-spec";
import type {
  CredentialsValidation,
  Deployer,
  DeployerCredentials,
  EnvPackHandler,
  HandlerContext,
  HandlerLogEvent,
  RolloutRunnerRequest,
  StageRequest,
} from "@greentic/env-packs";
import { hashFile, writeFileAtomic } from "@greentic/io-kit";
import { REMOTE_UPLOADS } from "./remote.js";
import { formatSshTarget, parseSshTarget, SshConnection, type SshTarget } from "./ssh.js";

/** Bumped when the envelope or an answer changes shape. */
export const REMOTE_CALL_PROTOCOL = 1;

/** Where the VM's op keeps an SSH-bound environment's deployer-local data. */
export const REMOTE_ENV_DATA = "/var/lib/greentic/envs";

/** The deployer calls that change the VM: one at a time per environment (flock on the VM). */
const MUTATING = new Set(["stage", "warm", "drain", "archive", "applyTrafficSplit", "destroy", "receive"]);

/** Calls the VM's op serves. */
export type RemoteMethod =
  | "stage"
  | "warm"
  | "drain"
  | "archive"
  | "applyTrafficSplit"
  | "status"
  | "runtimeConfig"
  | "destroy"
  | "routerStatus"
  | "revisionMetrics"
  | "revisionReadiness"
  | "readLogs"
  | "validate"
  | "have"
  | "receive";

/** The first line a remote call sends. */
export interface RemoteEnvelope {
  protocol: number;
  /** The operator's op version; the VM's op refuses to act when its own differs. */
  op_version?: string | undefined;
  method: RemoteMethod;
  env_id: string;
  /** The DeploymentSpec (JSON text), read on the operator's machine from its spec_path. */
  spec?: string | undefined;
  oci_runtime?: string | undefined;
  /** The method's arguments after the handler context. */
  args: unknown[];
}

/** The one line the VM's op answers. */
export type RemoteAnswer =
  | { ok: true; op_version?: string; result: unknown; events: HandlerLogEvent[] }
  | { ok: false; op_version?: string; error: Record<string, unknown>; events: HandlerLogEvent[] };

/** How the operator's op reaches the environment's VM (from the single-VM answers). */
export interface RemoteBinding {
  target: SshTarget;
  knownHosts: string;
  identity?: string | undefined;
  /** The op executable on the VM. */
  remoteOp: string;
}

/** The binding in the answers, or undefined for a VM bound to the machine op runs on. */
export function remoteBindingOf(answers: {
  ssh?: string | undefined;
  known_hosts?: string | undefined;
  identity?: string | undefined;
  remote_op?: string | undefined;
}): RemoteBinding | undefined {
  if (answers.ssh === undefined) return undefined;
  return {
    target: parseSshTarget(answers.ssh, "env-packs/deployer/answers.json: ssh"),
    // The answers schema requires known_hosts with ssh.
    knownHosts: answers.known_hosts!,
    identity: answers.identity,
    remoteOp: answers.remote_op ?? "/usr/local/bin/op",
  };
}

/** One master connection per VM under `$GREENTIC_HOME/ssh`, as `op single-vm --host` keeps. */
export function connectionFor(binding: RemoteBinding): SshConnection {
  const home = process.env.GREENTIC_HOME ?? join(homedir(), ".greentic");
  return new SshConnection({
    target: binding.target,
    knownHosts: binding.knownHosts,
    ...(binding.identity === undefined ? {} : { identity: binding.identity }),
    controlDir: join(home, "ssh"),
  });
}

/** The VM's op, behind `sudo -n` for a login other than root (one command line, for sudoers). */
function remoteCommand(binding: RemoteBinding): string[] {
  const op = [binding.remoteOp, "single-vm", "remote-call"];
  return binding.target.user === undefined || binding.target.user === "root" ? op : ["sudo", "-n", ...op];
}

/**
 * Makes one call on the VM: the envelope on stdin (then `file`'s bytes, for `receive`), the
 * answer from stdout. The VM's errors come back as the GreenticErrors they were; the
 * transport's own failures name the VM.
 */
export async function callVm(
  connection: SshConnection,
  binding: RemoteBinding,
  envelope: RemoteEnvelope,
  options: { file?: string; log?: ((event: HandlerLogEvent) => void) | undefined } = {},
): Promise<unknown> {
  const argv = remoteCommand(binding);
  const line = `${JSON.stringify(envelope)}\n`;
  const r = await connection.run(
    argv,
    options.file === undefined ? { input: line } : { inputPrefix: line, inputFile: options.file },
  );
  if (r.code === 255) throw connection.failure(r);
  const target = connection.target;
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  let answer: RemoteAnswer | undefined;
  try {
    answer = JSON.parse(last) as RemoteAnswer;
  } catch {
    answer = undefined;
  }
  if (answer === undefined || typeof answer !== "object" || answer === null || !("ok" in answer)) {
    const err = r.stderr.trim();
    if (/a password is required|not allowed to execute|may not run sudo|is not in the sudoers/.test(err))
      throw new GreenticError(
        "unauthorized",
        `${target}: sudo on the VM refused to run ${binding.remoteOp} single-vm remote-call for ${binding.target.user} without a password`,
        {
          hint: `allow exactly that command in /etc/sudoers.d/greentic on the VM: ${binding.target.user} ALL=(root) NOPASSWD: ${binding.remoteOp} single-vm remote-call`,
          details: { code: "vm-sudo-refused", target, stderr: err.slice(-2000) },
        },
      );
    if (r.code === 127 && /not found|No such file/.test(err))
      throw new GreenticError(
        "precondition-failed",
        `${target}: op is not installed on the VM at ${binding.remoteOp}`,
        {
          path: "remote_op",
          hint: "install the same op release as on this machine there (op single-vm cloud-init does at first boot), or name its path with remote_op in the answers",
          details: { code: "remote-op-missing", target },
        },
      );
    if (/command single-vm:remote-call not found|remote-call is not a/.test(err))
      throw versionMismatch(target, binding, "older (it has no single-vm remote-call)", envelope.op_version);
    throw new GreenticError(
      "io",
      `${target}: ${binding.remoteOp} single-vm remote-call ${envelope.method} failed (exit ${r.code}): ${lastLine(err) || "no answer"}`,
      {
        hint: "see the VM's journal; nothing was recorded in the store",
        details: { code: "remote-call-failed", target, stderr: err.slice(-2000) },
      },
    );
  }
  for (const event of answer.events ?? []) options.log?.(event);
  if (envelope.op_version !== undefined && answer.op_version !== undefined && answer.op_version !== envelope.op_version)
    throw versionMismatch(target, binding, answer.op_version, envelope.op_version);
  if (!answer.ok) throw errorFrom(answer.error, target);
  return answer.result;
}

function versionMismatch(target: string, binding: RemoteBinding, vm: string, here: string | undefined): GreenticError {
  return new GreenticError(
    "precondition-failed",
    `${target}: the VM's op (${binding.remoteOp}) is ${/^\d/.test(vm) ? `version ${vm}` : vm}, this machine's op is version ${here}; refusing to act with two versions`,
    {
      path: "remote_op",
      hint: `install op ${here} on the VM at ${binding.remoteOp} (the release's op-linux-x64, checked against its SHA256SUMS), or run the op that matches the VM's`,
      details: { code: "op-version-mismatch", target, vm_op_version: vm, op_version: here },
    },
  );
}

/** The VM's error, as the GreenticError it was there (its kind decides the exit code here too). */
function errorFrom(error: Record<string, unknown>, target: string): GreenticError {
  const kind = (typeof error.kind === "string" ? error.kind : "internal") as ErrorKind;
  const message = typeof error.message === "string" ? error.message : "the VM's op failed";
  return new GreenticError(kind, message, {
    ...(typeof error.hint === "string" ? { hint: error.hint } : {}),
    ...(typeof error.path === "string" ? { path: error.path } : {}),
    ...(Array.isArray(error.issues) ? { issues: error.issues } : {}),
    details: { ...((error.details as Record<string, unknown> | undefined) ?? {}), vm: target },
  });
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).at(-1) ?? "";
}

/** Where an uploaded bundle lives on the VM (by its digest), as `op single-vm --host` puts it. */
export function remoteBundlePath(sha256: string): string {
  return `${REMOTE_UPLOADS}/bundles/sha256-${sha256}.gtbundle`;
}

/** Puts a local bundle on the VM unless it holds those bytes already; returns its path there. */
export async function uploadBundle(
  connection: SshConnection,
  binding: RemoteBinding,
  base: Omit<RemoteEnvelope, "method" | "args" | "spec">,
  file: string,
  log?: (event: HandlerLogEvent) => void,
): Promise<string> {
  const hashed = await hashFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new GreenticError("not-found", `bundle ${file} cannot be read (${error.code ?? error.message})`, {
      path: "bundlePath",
      hint: "build it with `op bundles build`, or fix the path",
    });
  });
  const present = (await callVm(connection, binding, { ...base, method: "have", args: [hashed.sha256] })) as {
    present: boolean;
  };
  if (!present.present) {
    log?.({
      event: "single-vm.upload",
      level: "info",
      sha256: hashed.sha256,
      bytes: hashed.size,
      vm: connection.target,
    });
    await callVm(connection, binding, { ...base, method: "receive", args: [hashed.sha256] }, { file });
  }
  return remoteBundlePath(hashed.sha256);
}

// --- The VM's side ---------------------------------------------------------------------------

/**
 * Reads the first line of `input` (the envelope). What follows it (an upload's bytes) is put
 * back, so that the stream goes on from there.
 */
function readEnvelope(input: Readable): Promise<RemoteEnvelope> {
  const bad = (why: string) =>
    new GreenticError("validation", `remote-call: ${why}`, {
      hint: "this command is run by the operator's op over SSH, not by hand",
    });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (f: () => void) => {
      input.off("readable", onReadable).off("end", onEnd).off("error", onError);
      f();
    };
    const onReadable = () => {
      for (let chunk = input.read() as Buffer | null; chunk !== null; chunk = input.read() as Buffer | null) {
        const nl = chunk.indexOf(10);
        if (nl === -1) {
          chunks.push(chunk);
          size += chunk.length;
          if (size > 4 * 1024 * 1024) return done(() => reject(bad("the envelope line exceeds 4 MiB")));
          continue;
        }
        chunks.push(chunk.subarray(0, nl));
        if (nl + 1 < chunk.length) input.unshift(chunk.subarray(nl + 1));
        return done(() => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as RemoteEnvelope);
          } catch {
            reject(bad("the first line of stdin is not a JSON envelope"));
          }
        });
      }
    };
    const onEnd = () => done(() => reject(bad("stdin ended before the envelope line")));
    const onError = (error: Error) => done(() => reject(error));
    input.on("readable", onReadable).on("end", onEnd).on("error", onError);
  });
}

/** Options of {@link serveRemoteCall}. */
export interface ServeRemoteCallOptions {
  input: Readable;
  /** This op's version (the VM's). */
  opVersion: string;
  /** The local single-VM handler (the one an environment bound on this VM uses). */
  handler: EnvPackHandler;
}

/**
 * `op single-vm remote-call` on the VM: reads the envelope (and an upload's bytes) from
 * `input`, runs the call with the handler bound to this machine, and returns the answer line
 * and its exit status. Never throws: every failure is an answer.
 */
export async function serveRemoteCall(o: ServeRemoteCallOptions): Promise<{ line: string; code: number }> {
  const events: HandlerLogEvent[] = [];
  const answer = (a: RemoteAnswer) => ({ line: `${JSON.stringify(a)}\n`, code: a.ok ? 0 : 1 });
  try {
    const envelope = await readEnvelope(o.input);
    if (envelope.protocol !== REMOTE_CALL_PROTOCOL)
      throw new GreenticError(
        "precondition-failed",
        `remote-call protocol ${envelope.protocol} is not this op's (${REMOTE_CALL_PROTOCOL})`,
        { details: { code: "op-version-mismatch", vm_op_version: o.opVersion } },
      );
    if (envelope.op_version !== undefined && envelope.op_version !== o.opVersion)
      // The operator turns this answer into its own message (both versions named).
      return answer({
        ok: false,
        op_version: o.opVersion,
        error: { kind: "precondition-failed", message: "op versions differ" },
        events,
      });
    const problem = checkEnvId(envelope.env_id);
    if (problem !== null) throw new GreenticError("invalid-argument", problem.message, { path: "env_id" });
    // One change at a time per environment on this VM, whichever operator sends it.
    const release = MUTATING.has(envelope.method)
      ? await holdLock(`/run/lock/greentic-env-${envelope.env_id}.lock`)
      : undefined;
    try {
      const result = await dispatch(o, envelope, events);
      return answer({ ok: true, op_version: o.opVersion, result: result ?? null, events });
    } finally {
      release?.();
    }
  } catch (error) {
    const e = isGreenticError(error) ? error : new GreenticError("internal", (error as Error).message ?? String(error));
    return answer({ ok: false, op_version: o.opVersion, error: e.toJSON(), events });
  }
}

const HEX = /^[0-9a-f]{64}$/;

/** How long a call waits for another operator's change of the same environment on this VM. */
const LOCK_WAIT_SECONDS = 600;

/**
 * Takes the environment's lock on this VM: a `flock` child holds it while its stdin is open, so
 * it is released when the call ends or this process dies. Returns the release.
 */
function holdLock(path: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "flock",
      ["-w", String(LOCK_WAIT_SECONDS), "-E", "75", path, "sh", "-c", "echo locked; exec cat >/dev/null"],
      { stdio: ["pipe", "pipe", "ignore"] },
    );
    child.stdout.once("data", () => resolve(() => child.stdin.end()));
    child.on("error", reject);
    child.on("exit", (code) =>
      reject(
        new GreenticError(
          "conflict",
          `another operator has been changing this environment on the VM for ${LOCK_WAIT_SECONDS} s (lock ${path}${code === 75 ? "" : `, flock exit ${code}`})`,
          {
            hint: "wait for the other command to finish, then run this again",
            details: { code: "vm-locked", lock: path },
          },
        ),
      ),
    );
  });
}

async function dispatch(
  o: ServeRemoteCallOptions,
  envelope: RemoteEnvelope,
  events: HandlerLogEvent[],
): Promise<unknown> {
  const { method, args } = envelope;
  if (method === "have" || method === "receive") {
    const sha = String(args[0]);
    if (!HEX.test(sha)) throw new GreenticError("invalid-argument", `remote-call ${method}: ${sha} is not a SHA-256`);
    const path = remoteBundlePath(sha);
    if (method === "have") return { present: (await hashFile(path).catch(() => null))?.sha256 === sha };
    await receive(path, sha, o.input);
    return { path };
  }
  if (envelope.spec === undefined)
    throw new GreenticError("invalid-argument", `remote-call ${method}: the envelope carries no spec`);
  // The spec as the operator's machine has it, where the handler reads it from.
  const specPath = `${REMOTE_UPLOADS}/specs/env-${envelope.env_id}.json`;
  await writeFileAtomic(specPath, envelope.spec, { mode: 0o600, dirMode: 0o755 });
  const ctx: HandlerContext = {
    envId: envelope.env_id,
    answers: {
      spec_path: specPath,
      ...(envelope.oci_runtime === undefined ? {} : { oci_runtime: envelope.oci_runtime }),
    },
    async dataDir(area, options) {
      const dir = join(REMOTE_ENV_DATA, envelope.env_id, area);
      if (options?.create !== false) await mkdir(dir, { recursive: true, mode: 0o700 });
      return dir;
    },
    log: (event) => events.push(event),
  };
  const deployer = o.handler.deployer!;
  const call = (deployer as unknown as Record<string, ((...a: unknown[]) => Promise<unknown>) | undefined>)[method];
  if (method === "validate") return o.handler.credentials!.validate(ctx);
  if (call === undefined) throw new GreenticError("invalid-argument", `remote-call: unknown method ${method}`);
  return call.call(deployer, ctx, ...args);
}

/** Streams the rest of stdin into `path` (a temporary file, its SHA-256 checked, then renamed). */
async function receive(path: string, sha: string, input: Readable): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = `${path}.upload-${process.pid}`;
  const hash = createHash("sha256");
  async function* hashed(source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      yield chunk;
    }
  }
  try {
    await pipeline(input, hashed, createWriteStream(tmp, { mode: 0o644 }));
    const got = hash.digest("hex");
    if (got !== sha)
      throw new GreenticError("integrity", `upload of ${path}: expected sha256:${sha}, got sha256:${got}`, {
        hint: "the bundle changed or was cut short on the way; run the command again",
      });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

// --- The operator's side: the deployer that forwards -----------------------------------------

const WILDCARD = new Set(["0.0.0.0", "::", "*", ""]);

/**
 * A URL the VM's op reports, as the operator reaches it. The VM's op speaks from the VM: the
 * proxy (or, with `recreate`, the runtime) listening on `publicBind` is `http://127.0.0.1:PORT/`
 * there for a wildcard address. A URL on publicBind's port becomes the environment's
 * `public_base_url` when one is set, else, for a wildcard publicBind, the SSH target's host with
 * that port; a specific address stays as bound (a loopback bind answers on the VM only). A URL
 * on another port (a revision's own, behind the proxy; the admin endpoint) is the VM's loopback
 * and stays as it is.
 */
export function operatorUrl(vmUrl: string, publicBind: string, target: SshTarget, publicBaseUrl?: string): string {
  let url: URL;
  try {
    url = new URL(vmUrl);
  } catch {
    return vmUrl;
  }
  const colon = publicBind.lastIndexOf(":");
  const bindPort = publicBind.slice(colon + 1);
  const port = url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port;
  if (colon === -1 || port !== bindPort) return vmUrl;
  // public_base_url has no path; the environment URL names its root, as the router's does.
  if (publicBaseUrl !== undefined) return publicBaseUrl.endsWith("/") ? publicBaseUrl : `${publicBaseUrl}/`;
  if (!WILDCARD.has(publicBind.slice(0, colon).replace(/^\[|\]$/g, ""))) return vmUrl;
  url.hostname = target.host.includes(":") ? `[${target.host}]` : target.host;
  return url.toString();
}

/** The VM's answer to `method`, with the URLs in it as the operator reaches them (see {@link operatorUrl}). */
function forOperator(method: RemoteMethod, result: unknown, spec: string, target: SshTarget, publicBaseUrl?: string) {
  const publicBind = (JSON.parse(spec) as { spec: { runtime: { publicBind: string } } }).spec.runtime.publicBind;
  const map = <T extends { url?: string | undefined }>(r: T): T =>
    r?.url === undefined ? r : { ...r, url: operatorUrl(r.url, publicBind, target, publicBaseUrl) };
  if (method === "routerStatus" || method === "warm") return map(result as { url?: string });
  if (method === "status" && Array.isArray(result)) return result.map(map);
  return result;
}

/** What a call over SSH needs, from the answers (undefined: the VM is this machine). */
export interface RemoteCallContext {
  binding: RemoteBinding;
  /** The DeploymentSpec as JSON text, read on this machine. */
  spec: string;
  ociRuntime?: string | undefined;
}

/** The methods of a deployer that go to the VM when the answers name one. */
const FORWARDED = [
  "stage",
  "warm",
  "drain",
  "archive",
  "applyTrafficSplit",
  "status",
  "runtimeConfig",
  "destroy",
  "routerStatus",
  "revisionMetrics",
  "revisionReadiness",
  "readLogs",
] as const;

/**
 * Wraps the single-VM deployer: a call for an environment whose answers name `ssh` is made on
 * that VM (a bundle to stage uploaded first, by digest); any other runs here. `validate` is the
 * credentials check, forwarded the same way.
 */
export function routeOverSsh(
  local: Deployer,
  validate: DeployerCredentials["validate"],
  remoteOf: (ctx: HandlerContext) => Promise<RemoteCallContext | undefined>,
  opVersion: string | undefined,
): { deployer: Deployer; validate: DeployerCredentials["validate"] } {
  const call = async (ctx: HandlerContext, r: RemoteCallContext, method: RemoteMethod, args: unknown[]) => {
    const connection = connectionFor(r.binding);
    const base = {
      protocol: REMOTE_CALL_PROTOCOL,
      op_version: opVersion,
      env_id: ctx.envId,
      ...(r.ociRuntime === undefined ? {} : { oci_runtime: r.ociRuntime }),
    };
    if (method === "stage") {
      const request = args[0] as StageRequest;
      const bundlePath = await uploadBundle(connection, r.binding, base, request.bundlePath, ctx.log);
      args = [{ ...request, bundlePath }];
    }
    const result = await callVm(connection, r.binding, { ...base, method, spec: r.spec, args }, { log: ctx.log });
    return forOperator(method, result, r.spec, r.binding.target, ctx.publicBaseUrl);
  };
  const deployer: Record<string, unknown> = { ...local };
  for (const method of FORWARDED) {
    const here = (local as unknown as Record<string, ((...a: unknown[]) => Promise<unknown>) | undefined>)[method];
    if (here === undefined) continue;
    deployer[method] = async (ctx: HandlerContext, ...args: unknown[]) => {
      const r = await remoteOf(ctx);
      return r === undefined ? here.call(local, ctx, ...args) : call(ctx, r, method, args);
    };
  }
  // Asked before a rollout is recorded: over SSH only `--foreground` can run it.
  deployer.supervisesRollouts = async (ctx: HandlerContext) => (await remoteOf(ctx)) === undefined;
  if (local.startRolloutRunner !== undefined) {
    const here = local.startRolloutRunner.bind(local);
    deployer.startRolloutRunner = async (ctx: HandlerContext, request: RolloutRunnerRequest) => {
      const r = await remoteOf(ctx);
      if (r === undefined) return here(ctx, request);
      // The runner records every step in the store, which the VM does not reach.
      throw new GreenticError(
        "precondition-failed",
        `environment ${ctx.envId} is driven over SSH (${formatSshTarget(r.binding.target)}): a rollout's runner needs the store, which stays on the operator's side, so it cannot run on the VM`,
        {
          hint: "run the rollout from this machine: op rollout start --foreground (keep the command running until it finishes)",
          details: { code: "rollout-runner-unsupported" },
        },
      );
    };
  }
  return {
    deployer: deployer as unknown as Deployer,
    async validate(ctx) {
      const r = await remoteOf(ctx);
      return r === undefined ? validate(ctx) : ((await call(ctx, r, "validate", [])) as CredentialsValidation);
    },
  };
}
