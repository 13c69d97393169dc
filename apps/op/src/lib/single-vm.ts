import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "@greentic/io-kit";
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import type { ApplyResult } from "@greentic/adapter-single-vm";
import type { DeploymentSpec } from "@greentic/deploy-spec";
import { OpCommand } from "./base.js";
import type { CommandBase } from "./command.js";

// What the `op single-vm` verbs share: the spec flags, spec loading and their base command.

/** `--spec FILE`: the DeploymentSpec every verb but init-spec reads. */
export const specFlag = Flags.string({
  char: "s",
  description:
    "DeploymentSpec file, YAML or JSON (detected from the content); - reads stdin. `op single-vm init-spec` writes one.",
  helpValue: "FILE",
});

/** The spec as a positional argument (same as `--spec`). */
export const specArg = Args.string({ description: "DeploymentSpec file (same as --spec)." });

/** `--root DIR`: staging. */
export const rootFlag = Flags.string({
  description:
    "Staging root: render every file under DIR (DIR/etc/systemd/system/..., DIR/var/lib/greentic/...) and execute nothing; commands are listed instead. For review, CI and image baking.",
  helpValue: "DIR",
});

/** `--oci-runtime`: container mode on hosts where podman's default OCI runtime fails. */
export const ociRuntimeFlag = Flags.string({
  description: "Container mode: OCI runtime passed to podman (--runtime), e.g. runc.",
  helpValue: "NAME",
});

/** The flags that drive the verb on a VM over SSH instead of on this machine. */
export const sshFlags = {
  host: Flags.string({
    description:
      "Run the verb on this VM over SSH (the system ssh, one reused connection): user@host or user@host:port. The VM's op does the work; the bundle and spec are uploaded first (the bundle only when the VM lacks its digest).",
    helpValue: "USER@HOST[:PORT]",
    helpGroup: "SSH",
  }),
  "known-hosts": Flags.string({
    description:
      "known_hosts file holding the VM's pinned host key; any other key is refused (exit 5). Default ~/.ssh/known_hosts.",
    helpValue: "FILE",
    helpGroup: "SSH",
  }),
  identity: Flags.string({
    description: "Private key to log in with (ssh -i). Default: your ssh configuration.",
    helpValue: "FILE",
    helpGroup: "SSH",
  }),
  "remote-op": Flags.string({
    description: "Path of the op executable on the VM. Default /usr/local/bin/op (where cloud-init installs it).",
    helpValue: "PATH",
    helpGroup: "SSH",
  }),
};

/** The verbs that run on a VM with `--host`. */
type SshVerb = "plan" | "apply" | "status" | "destroy" | "rollback" | "preflight";

/**
 * Writes a plan or spec file the user asked for, mode 0644, with the I/O kit's atomic write
 * (`exclusive`: a file that exists, or appears meanwhile, is never replaced).
 */
export async function writeAtomic(file: string, content: string, options: { exclusive?: boolean } = {}): Promise<void> {
  await writeFileAtomic(file, content, { mode: 0o644, ...options });
}

/** Base of the `op single-vm` verbs: the spec (flag or positional) and the staging root. */
export abstract class SingleVmCommand<T extends typeof CommandBase = typeof CommandBase> extends OpCommand<T> {
  /** The spec file named by `--spec` or the positional argument (usage error when neither or both). */
  protected specFile(): string {
    const flag = (this.flags as { spec?: string }).spec;
    const arg = (this.args as { spec?: string }).spec;
    if (flag !== undefined && arg !== undefined && flag !== arg)
      this.usage(`the spec is given twice: --spec ${flag} and ${arg}`, "give the spec once, with --spec FILE");
    const file = flag ?? arg;
    if (file === undefined)
      this.usage(
        `op ${this.id?.replace(/:/g, " ")} needs a DeploymentSpec: --spec FILE`,
        "`op single-vm init-spec --out deployment.yaml` writes a commented one to start from",
      );
    return file;
  }

  /** Reads and validates the spec (the adapter's `loadDeploymentSpec`); nothing is looked up before this succeeds. */
  protected async spec(): Promise<DeploymentSpec> {
    const { loadDeploymentSpec } = await import("@greentic/adapter-single-vm");
    return loadDeploymentSpec(this.specFile());
  }

  /** `--root` as an absolute path; `/` is refused (it would be the real host). */
  protected root(): string | undefined {
    const given = (this.flags as { root?: string }).root;
    if (given === undefined) return undefined;
    if (given === "") this.usage("--root needs a directory");
    const root = resolve(given);
    if (root === "/")
      this.usage(
        "--root / is the real host, not a staging root",
        "drop --root to act on this host, or pass a staging directory",
      );
    return root;
  }

  /** Options shared by the adapter's verbs: staging root and OCI runtime. */
  protected adapterOptions(): { root?: string; ociRuntime?: string } {
    const root = this.root();
    const ociRuntime = (this.flags as { "oci-runtime"?: string })["oci-runtime"];
    return { ...(root === undefined ? {} : { root }), ...(ociRuntime === undefined ? {} : { ociRuntime }) };
  }

  /**
   * With `--host`: runs this verb on the VM over SSH (the adapter's runSingleVmOverSsh), prints
   * what the VM's op printed and takes its exit status; returns true. Without: false.
   * `refused` are flags of this machine (e.g. `--root`, `--out`) that make no sense there.
   */
  protected async overSsh(verb: SshVerb, passOn: readonly string[], refused: readonly string[] = []): Promise<boolean> {
    const f = this.flags as Record<string, unknown>;
    const host = f.host as string | undefined;
    const sshOnly = ["known-hosts", "identity", "remote-op"].filter((k) => f[k] !== undefined);
    if (host === undefined) {
      if (sshOnly.length > 0) this.usage(`--${sshOnly[0]} needs --host USER@HOST[:PORT]`);
      return false;
    }
    for (const flag of ["root", ...refused])
      if (f[flag] !== undefined && f[flag] !== false)
        this.usage(
          `--${flag} cannot be combined with --host`,
          `run op single-vm ${verb} --${flag} on this machine, without --host`,
        );
    const { parseSshTarget, runSingleVmOverSsh, SshConnection } = await import("@greentic/adapter-single-vm");
    const target = parseSshTarget(host);
    const spec = await this.spec();
    const home = process.env.GREENTIC_HOME ?? join(homedir(), ".greentic");
    const connection = new SshConnection({
      target,
      knownHosts: resolve((f["known-hosts"] as string | undefined) ?? join(homedir(), ".ssh", "known_hosts")),
      ...(f.identity === undefined ? {} : { identity: resolve(f.identity as string) }),
      controlDir: join(home, "ssh"),
    });
    const flags = [...(this.jsonEnabled() ? ["--json"] : [])];
    for (const name of passOn) {
      const value = f[name];
      if (value === true) flags.push(`--${name}`);
      else if (typeof value === "string" || typeof value === "number") flags.push(`--${name}`, String(value));
    }
    const lockTimeout = f["lock-timeout"] as number | undefined;
    const r = await runSingleVmOverSsh({
      connection,
      verb,
      spec,
      flags,
      ...(f["remote-op"] === undefined ? {} : { remoteOp: f["remote-op"] as string }),
      ...(lockTimeout === undefined ? {} : { lockTimeoutSeconds: lockTimeout }),
      onProgress: (line) => this.progress(`  ${line}`),
    });
    this.endProgress();
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    this.exitStatus({ exit: r.code });
    return true;
  }

  /** One line saying nothing was executed, for staging runs. */
  protected stagingNote(root: string | undefined): string {
    return root === undefined ? "" : `Staging root ${root}: files rendered there, nothing executed.\n`;
  }
}

export function renderApplyResult(r: ApplyResult, root: string | undefined): string {
  let out = `${r.summary}\n`;
  if (r.staging && r.commands.length > 0)
    out += `Staged under ${root}; a real apply would run:\n${r.commands.map((c) => `  ${c}`).join("\n")}\n`;
  if (r.ready) out += `ready: ${r.ready.status}\n`;
  if (r.mainPid !== undefined) out += `main pid: ${r.mainPid}\n`;
  // A canary apply of an environment's revisions has no bundle of its own to name.
  if (r.bundleDigest !== "") out += `bundle: ${r.bundleDigest}\n`;
  return out;
}

/**
 * Progress for apply/rollback on stderr: one line per step, and a heartbeat while the
 * readiness wait (up to startupTimeoutSeconds) runs. Returns the handler and a stop function.
 */
export function applyProgress(print: (line: string) => void): { onProgress: (line: string) => void; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    onProgress: (line) => {
      stop();
      print(`  ${line}`);
      if (line.startsWith("waiting for")) {
        const since = Date.now();
        timer = setInterval(() => print(`  still waiting (${Math.round((Date.now() - since) / 1000)} s)`), 10_000);
        timer.unref();
      }
    },
    stop,
  };
}
