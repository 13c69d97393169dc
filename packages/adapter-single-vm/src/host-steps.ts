import { GreenticError, type DeploymentSpec } from "@greentic/deploy-spec";
import { waitForReady, type AdminResponse } from "@greentic/runtime";
import { hostPath, type CommandResult, type HostExecutor } from "./executor.js";

/**
 * Steps both strategies take on the host (recreate in apply.ts, canary in canary.ts): running
 * the commands of an apply, creating the service account, waiting for a unit's runtime to be ready.
 */

/** Runs one command of an apply step; it is recorded, and a non-zero exit fails the step. */
export type StepRunner = (cmd: string, args: string[], what: string) => Promise<CommandResult>;

/** A {@link StepRunner} that appends each command line to `commands`. */
export function stepRunner(executor: HostExecutor, commands: string[]): StepRunner {
  return async (cmd, args, what) => {
    commands.push([cmd, ...args].join(" "));
    const r = await executor.run(cmd, args, { timeoutMs: 180_000 });
    if (r.code !== 0)
      throw new GreenticError(
        "io",
        `${what} failed: ${cmd} ${args.join(" ")} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-800)}`,
        { hint: "see the command's output above; `op single-vm preflight` checks the host's prerequisites" },
      );
    return r;
  };
}

/** Creates the service's system group and user, each only when the plan found it missing. */
export async function createServiceAccount(
  run: StepRunner,
  service: { user: string; group: string },
  missing: { group: boolean; user: boolean },
): Promise<void> {
  if (missing.group) await run("groupadd", ["--system", service.group], `creating group ${service.group}`);
  if (missing.user)
    await run(
      "useradd",
      [
        "--system",
        "--gid",
        service.group,
        "--home-dir",
        "/nonexistent",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        service.user,
      ],
      `creating user ${service.user}`,
    );
}

/**
 * Waits for a unit's runtime to answer its readiness path over mTLS. When it does not, the
 * error carries the tail of the unit's journal: the runtime's own last words say more than
 * systemd's restart bookkeeping, so those come first.
 */
export async function waitUnitReady(
  executor: HostExecutor,
  o: {
    unit: string;
    address: { host: string; port: number };
    readinessPath: string;
    /** The operator client certificate directory (target path). */
    certDir: string;
    timeoutMs: number;
    intervalMs: number;
    /** Said after "did not become ready", e.g. "within 60 s". */
    within?: string;
    /** The verb to run again once fixed ("apply", "warm"). */
    retry: string;
  },
): Promise<AdminResponse> {
  try {
    return await waitForReady({
      address: o.address,
      readinessPath: o.readinessPath,
      certDir: hostPath(executor, o.certDir),
      timeoutMs: o.timeoutMs,
      intervalMs: o.intervalMs,
    });
  } catch (error) {
    const journal = await executor.run("journalctl", ["-u", o.unit, "-n", "60", "--no-pager", "-o", "short-iso"]);
    const tail = journal.stdout.trim().split("\n");
    const own = tail.filter((line) => !/ systemd\[1\]: /.test(line));
    throw new GreenticError(
      "io",
      `${o.unit} did not become ready${o.within ? ` ${o.within}` : ""}: ${(error as Error).message}\n  journal tail:\n  ${(own.length > 0 ? own : tail).slice(-5).join("\n  ")}`,
      {
        hint: `the tail of the unit's journal is in details.journal; fix the cause and ${o.retry} again`,
        details: { journal: tail.slice(-40) },
        cause: error,
      },
    );
  }
}

/**
 * Removes a deployment's container left behind by its stopped unit. `podman run --rm` removes its
 * container when the engine exits, but a stop that ends the engine before its clean-up leaves
 * the container behind (seen with podman 4.3 on Debian 12): destroy removes what apply made.
 */
export async function removeContainer(
  executor: HostExecutor,
  spec: DeploymentSpec,
  name: string,
  commands: string[],
): Promise<void> {
  if (executor.mode !== "execute" || spec.spec.runtime.image === undefined) return;
  const engine = spec.spec.runtime.engine ?? "podman";
  const exists = await executor.run(engine, ["container", "exists", name]);
  if (engine === "docker" || exists.code === 0) {
    commands.push(`${engine} rm -f ${name}`);
    await executor.run(engine, ["rm", "-f", name]);
  }
}
