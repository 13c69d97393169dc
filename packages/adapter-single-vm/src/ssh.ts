// Driving a VM from the operator's machine over SSH, with the system OpenSSH client.
//
// The adapter's HostExecutor seam covers commands only: apply, status and the canary code read
// and write the target's files through the local filesystem under `executor.root`. Rather than
// rerouting every file access over the wire, the operator's op runs the same `op single-vm`
// verb on the VM (the op executable cloud-init installs), with the spec and the bundle uploaded
// first. The VM's op does the work as it would locally, so the results are the same by
// construction; the admin endpoint stays loopback-only there, since the readiness check runs
// on the VM.
//
// - One OpenSSH master connection per target (ControlMaster, ControlPersist 60 s) under
//   GREENTIC_HOME: consecutive commands and consecutive op runs skip the handshake. A master
//   was checked against the host keys when it was made, so its socket is named by everything
//   that decided that connection (user, host, port, the known_hosts file's path and content,
//   the identity): a changed known_hosts file or key never reuses a master made under the old.
// - Host keys are checked against the known_hosts file the operator pins
//   (StrictHostKeyChecking=yes, no global file, nothing ever added): an unknown or changed key
//   is refused (`unauthorized`, exit 5).
// - BatchMode: no password or passphrase prompt; a refused key is `unauthorized` too.
// - Mutating verbs run under flock on the VM, so two operators never apply at once: the
//   second waits up to --lock-timeout, then gets `conflict` (exit 3).
// - An unreachable host is `io` (exit 1) with a hint; nothing has changed anywhere.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import type { CommandResult } from "./executor.js";

/** `user@host[:port]`, `host`, `[v6addr]:port`. */
export interface SshTarget {
  user: string | undefined;
  host: string;
  port: number;
}

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const USER = /^[a-z_][a-z0-9_-]*$/;

/** Parses an SSH target; `validation` (exit 2) naming `source` for anything else. */
export function parseSshTarget(value: string, source = "--host"): SshTarget {
  const bad = (why: string) =>
    new GreenticError("validation", `${source} ${JSON.stringify(value)}: ${why}`, {
      path: source,
      hint: "give the VM as user@host or user@host:port, e.g. root@vm1.example.com:22",
    });
  const at = value.lastIndexOf("@");
  const user = at === -1 ? undefined : value.slice(0, at);
  if (user !== undefined && !USER.test(user)) throw bad(`${JSON.stringify(user)} is not a user name`);
  let rest = value.slice(at + 1);
  let port = 22;
  let host: string;
  if (rest.startsWith("[")) {
    const end = rest.indexOf("]");
    if (end === -1) throw bad("unclosed [");
    host = rest.slice(1, end);
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(":")) throw bad(`${host} is not an IPv6 address`);
    rest = rest.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) throw bad("expected :port after ]");
    if (rest !== "") port = portOf(rest.slice(1), bad);
  } else {
    const colon = rest.indexOf(":");
    host = colon === -1 ? rest : rest.slice(0, colon);
    if (colon !== -1) port = portOf(rest.slice(colon + 1), bad);
    if (!HOST.test(host)) throw bad(host === "" ? "no host" : `${JSON.stringify(host)} is not a host name or address`);
  }
  return { user, host, port };
}

function portOf(text: string, bad: (why: string) => GreenticError): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535)
    throw bad(`port ${JSON.stringify(text)} is not 1-65535`);
  return Number(text);
}

export function formatSshTarget(t: SshTarget): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${t.user === undefined ? "" : `${t.user}@`}${host}${t.port === 22 ? "" : `:${t.port}`}`;
}

export interface SshOptions {
  target: SshTarget;
  /** The pinned known_hosts file: the only host keys accepted. */
  knownHosts: string;
  /** Private key (ssh -i); default: the user's ssh configuration. */
  identity?: string;
  /** Directory of the master connections' sockets (0700). */
  controlDir: string;
  connectTimeoutSeconds?: number;
}

/** What a remote command reads on stdin. */
export interface SshInput {
  input?: string;
  inputFile?: string;
  /** Written before `inputFile`'s bytes. */
  inputPrefix?: string;
  timeoutMs?: number;
}

/** Single-quotes one word for the remote shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A connection to one VM through the system `ssh`. */
export class SshConnection {
  readonly #o: SshOptions;

  constructor(options: SshOptions) {
    this.#o = options;
    mkdirSync(options.controlDir, { recursive: true, mode: 0o700 });
  }

  get target(): string {
    return formatSshTarget(this.#o.target);
  }

  /**
   * The master connection's socket: a digest of the connection's parameters, the known_hosts
   * file's bytes among them (read now: a file changed since the master was made names another
   * socket, so the next session makes a new, newly checked connection). 24 hex digits keep the
   * path short: a Unix socket path has at most 107 bytes, and ssh binds the path plus 17 bytes
   * first. A longer one (a long GREENTIC_HOME) is undefined: ssh would refuse every session
   * ("ControlPath too long"), so each session then makes its own connection.
   */
  get controlPath(): string | undefined {
    const o = this.#o;
    let pinned: string;
    try {
      pinned = createHash("sha256").update(readFileSync(o.knownHosts)).digest("hex");
    } catch (error) {
      pinned = `unreadable: ${(error as NodeJS.ErrnoException).code}`;
    }
    const key = JSON.stringify([
      o.target.user ?? null,
      o.target.host,
      o.target.port,
      o.knownHosts,
      pinned,
      o.identity ?? null,
    ]);
    const path = join(o.controlDir, createHash("sha256").update(key).digest("hex").slice(0, 24));
    return Buffer.byteLength(path) + 17 <= 107 ? path : undefined;
  }

  #args(): string[] {
    const t = this.#o.target;
    const control = this.controlPath;
    return [
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${this.#o.knownHosts}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "UpdateHostKeys=no",
      "-o",
      "CheckHostIP=no",
      "-o",
      `ConnectTimeout=${this.#o.connectTimeoutSeconds ?? 10}`,
      "-o",
      "ServerAliveInterval=15",
      ...(control === undefined
        ? ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
        : ["-o", "ControlMaster=auto", "-o", `ControlPath=${control}`, "-o", "ControlPersist=60"]),
      ...(this.#o.identity === undefined ? [] : ["-o", "IdentitiesOnly=yes", "-i", this.#o.identity]),
      "-p",
      String(t.port),
      ...(t.user === undefined ? [] : ["-l", t.user]),
      "--",
      t.host,
    ];
  }

  /**
   * Runs `argv` on the VM (each word quoted for its shell); `stdin` is streamed from a file
   * (after `inputPrefix`, when given) or given as text.
   */
  run(argv: readonly string[], options: SshInput = {}) {
    return this.#ssh(argv.map(shellQuote).join(" "), options);
  }

  /** Runs a remote shell script (trusted text of our own: no user input unquoted). */
  script(text: string, options: SshInput = {}) {
    return this.#ssh(text, options);
  }

  #ssh(command: string, options: SshInput): Promise<CommandResult> {
    return new Promise((resolve) => {
      const child = spawn("ssh", [...this.#args(), command], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let settled = false;
      const timer = setTimeout(() => child.kill("SIGTERM"), options.timeoutMs ?? 600_000);
      const finish = (r: CommandResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", (error) => finish({ code: 127, stdout, stderr: `${stderr}${error.message}` }));
      child.on("close", (code, signal) => finish({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
      child.stdin.on("error", () => {});
      if (options.inputFile !== undefined) {
        if (options.inputPrefix !== undefined) child.stdin.write(options.inputPrefix);
        createReadStream(options.inputFile).pipe(child.stdin);
      } else child.stdin.end(options.input ?? "");
    });
  }

  /**
   * Checks that the VM answers and its host key is the pinned one. Throws `unauthorized` for a
   * host key or login refusal, `io` for an unreachable host; the error names the target.
   */
  async check(): Promise<void> {
    const r = await this.run(["true"], { timeoutMs: 60_000 });
    if (r.code !== 0) throw this.failure(r);
  }

  /** The error for an ssh-level failure (exit 255) or a remote command's failure. */
  failure(r: CommandResult, what = "the connection"): GreenticError {
    const target = this.target;
    const err = r.stderr.trim();
    const details = { code: "ssh", target, ssh_exit: r.code, stderr: err.slice(-2000) };
    if (r.code === 127 && /ENOENT/.test(err))
      return new GreenticError("precondition-failed", "the OpenSSH client (ssh) is not installed on this machine", {
        hint: "install it (Debian: apt-get install openssh-client)",
        details,
      });
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|No \S+ host key is known/.test(err)) {
      const changed = /HAS CHANGED/.test(err);
      return new GreenticError(
        "unauthorized",
        `${target}: the host key ${changed ? "differs from the one pinned in" : "is not in"} ${this.#o.knownHosts}; refusing to connect`,
        {
          path: "--known-hosts",
          hint: changed
            ? "if the VM was reinstalled, check its new key out of band (its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and replace the line in the known_hosts file"
            : `add the VM's host key to ${this.#o.knownHosts} after checking its fingerprint out of band (ssh-keyscan -p PORT HOST prints it; compare with ssh-keygen -lf on the VM)`,
          details: { ...details, code: changed ? "ssh-host-key-changed" : "ssh-host-key-unknown" },
        },
      );
    }
    if (/Permission denied/.test(err))
      return new GreenticError("unauthorized", `${target}: the VM refused the login (${lastLine(err)})`, {
        hint: "check the user and the key (--identity FILE), and that the key is in the user's authorized_keys on the VM",
        details: { ...details, code: "ssh-login-refused" },
      });
    if (r.code === 255)
      return new GreenticError("io", `${target} is unreachable over SSH: ${lastLine(err) || `ssh exited ${r.code}`}`, {
        hint: "check that the VM is up, that sshd listens on that port and that this machine may reach it; nothing was changed",
        details: { ...details, code: "ssh-unreachable" },
      });
    return new GreenticError("io", `${target}: ${what} failed (exit ${r.code}): ${lastLine(err)}`, { details });
  }

  /**
   * Puts a local file on the VM at `remote` (atomically: a temporary file, its SHA-256 checked
   * on the VM, then a rename), unless a file with that SHA-256 is already there. Returns
   * whether it was sent.
   */
  upload(local: string, remote: string, sha256: string, mode = "0600"): Promise<boolean> {
    return this.#put({ inputFile: local }, remote, sha256, mode);
  }

  async #put(
    source: { input?: string; inputFile?: string },
    remote: string,
    sha256: string,
    mode: string,
  ): Promise<boolean> {
    const q = shellQuote(remote);
    const have = await this.script(`sha256sum ${q} 2>/dev/null || true`, { timeoutMs: 120_000 });
    if (have.code !== 0) throw this.failure(have);
    if (have.stdout.split(/\s/)[0] === sha256) return false;
    const script = receiveScript(remote, { sha256, mode }).join("\n");
    const r = await this.script(script, { ...source, timeoutMs: 600_000 });
    if (r.code !== 0) throw this.failure(r, `uploading ${remote}`);
    return true;
  }
}

/**
 * The remote shell lines that put stdin at `remote` atomically: its parent directories made as
 * the VM's own are (0755: /var/lib/greentic holds the services' working directories), the bytes
 * written to a private temporary file, then, with `check`, its SHA-256 compared (exit 65 and the
 * file removed on a mismatch) and its mode set, and the file renamed into place.
 */
export function receiveScript(remote: string, check?: { sha256: string; mode: string }): string[] {
  const q = shellQuote(remote);
  const tmp = shellQuote(`${remote}.upload-${process.pid}`);
  return [
    "set -e",
    "umask 022",
    `mkdir -p "$(dirname ${q})"`,
    "umask 077",
    `cat > ${tmp}`,
    ...(check === undefined
      ? []
      : [
          `got=$(sha256sum ${tmp} | cut -d' ' -f1)`,
          `if [ "$got" != ${check.sha256} ]; then rm -f ${tmp}; echo "digest mismatch: expected sha256:${check.sha256}, got sha256:$got" >&2; exit 65; fi`,
          `chmod ${check.mode} ${tmp}`,
        ]),
    `mv -f ${tmp} ${q}`,
  ];
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).at(-1) ?? "";
}
