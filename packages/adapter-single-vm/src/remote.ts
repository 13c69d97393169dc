// `op single-vm VERB --host user@host[:port]`: the verb runs on the VM (see ssh.ts for why and
// how), after the bundle and the spec are put there. What the VM's op prints and its exit
// status come back unchanged; the failures of the transport itself are GreenticErrors.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GreenticError, type DeploymentSpec } from "@greentic/deploy-spec";
import { hashFile } from "@greentic/io-kit";
import type { CommandResult } from "./executor.js";
import { receiveScript, type SshConnection, shellQuote } from "./ssh.js";

/** The verbs that change the VM: they run under the VM's per-deployment lock. */
const MUTATING = new Set(["apply", "destroy", "rollback"]);

/** Where uploads land on the VM (root's; the bundle by digest, the spec by deployment name). */
export const REMOTE_UPLOADS = "/var/lib/greentic/uploads";

/** flock's exit status when the lock was not obtained in time (its -E). */
const LOCK_BUSY = 75;

export interface RemoteVerbOptions {
  connection: SshConnection;
  verb: "plan" | "apply" | "status" | "destroy" | "rollback" | "preflight";
  spec: DeploymentSpec;
  /** Flags passed on to the VM's op (e.g. `--json`, `--confirm`). */
  flags: readonly string[];
  /** The op executable on the VM (cloud-init installs /usr/local/bin/op). */
  remoteOp?: string;
  /** Seconds to wait for another operator's apply/destroy/rollback on this VM. */
  lockTimeoutSeconds?: number;
  onProgress?: (line: string) => void;
}

export interface RemoteVerbResult extends CommandResult {
  /** Whether the bundle was sent (false: the VM had it, checked by digest). */
  bundleUploaded: boolean;
  remoteSpec: string;
}

/** Runs `op single-vm VERB` on the VM over `connection`; the VM's output and exit status are returned as they are. */
export async function runSingleVmOverSsh(o: RemoteVerbOptions): Promise<RemoteVerbResult> {
  const c = o.connection;
  const remoteOp = o.remoteOp ?? "/usr/local/bin/op";
  const name = o.spec.metadata.name;
  // Two SSH sessions when the VM has the bundle (its digest checked, then the verb), three
  // when it is sent; all through the one master connection. The first session is also the
  // connection check: a refused host key or an unreachable VM fails it before anything is sent.
  // The bundle by its digest: sent once, never again while the VM holds those bytes.
  const source = o.spec.spec.bundle.source;
  const localBundle = source.startsWith("file:") ? fileURLToPath(source) : resolve(source);
  const digest = (
    await hashFile(localBundle).catch((error: unknown) => {
      throw new GreenticError(
        "not-found",
        `spec.bundle.source ${localBundle} cannot be read: ${(error as Error).message}`,
        {
          path: "spec.bundle.source",
          hint: "the bundle is read on this machine and uploaded to the VM; fix the path in the spec",
        },
      );
    })
  ).sha256;
  const remoteBundle = `${REMOTE_UPLOADS}/bundles/sha256-${digest}.gtbundle`;
  o.onProgress?.(`checking the bundle on ${c.target} (sha256:${digest.slice(0, 12)})`);
  const bundleUploaded = await c.upload(localBundle, remoteBundle, digest, "0644");
  if (bundleUploaded) o.onProgress?.(`uploaded the bundle to ${remoteBundle}`);
  const spec: DeploymentSpec = {
    ...o.spec,
    spec: { ...o.spec.spec, bundle: { ...o.spec.spec.bundle, source: remoteBundle } },
  };
  const text = `${JSON.stringify(spec, null, 2)}\n`;
  const remoteSpec = `${REMOTE_UPLOADS}/specs/${name}.json`;
  const argv = [remoteOp, "single-vm", o.verb, "--spec", remoteSpec, ...o.flags];
  const command = MUTATING.has(o.verb)
    ? [
        "flock",
        "-w",
        String(o.lockTimeoutSeconds ?? 60),
        "-E",
        String(LOCK_BUSY),
        `/run/lock/greentic-single-vm-${name}.lock`,
        ...argv,
      ]
    : argv;
  o.onProgress?.(`running op single-vm ${o.verb} on ${c.target}`);
  // The spec (stdin) is put next to the bundle in the same session as the verb.
  const script = [
    ...receiveScript(remoteSpec),
    // The verb creates directories the services must traverse: the VM's usual umask again.
    "umask 022",
    `NO_COLOR=1 exec ${command.map(shellQuote).join(" ")}`,
  ].join("\n");
  const r = await c.script(script, { input: text });
  if (r.code === 255) throw c.failure(r);
  if (MUTATING.has(o.verb) && r.code === LOCK_BUSY)
    throw new GreenticError(
      "conflict",
      `${c.target}: another operator is changing deployment ${name} on this VM (its lock was held for ${o.lockTimeoutSeconds ?? 60} s)`,
      {
        hint: "wait for the other apply, destroy or rollback to finish, then run this again (or raise --lock-timeout)",
        details: { code: "vm-locked", target: c.target, lock: `/run/lock/greentic-single-vm-${name}.lock` },
      },
    );
  if (r.code === 127 && /not found|No such file/.test(r.stderr))
    throw new GreenticError("precondition-failed", `${c.target}: op is not installed on the VM at ${remoteOp}`, {
      path: "--remote-op",
      hint: "install the op executable there (op single-vm cloud-init does at first boot), or name its path with --remote-op",
      details: { code: "remote-op-missing", target: c.target },
    });
  return { ...r, bundleUploaded, remoteSpec };
}
