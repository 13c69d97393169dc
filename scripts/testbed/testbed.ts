/**
 * A throwaway Debian 12 host with systemd as PID 1, booted with systemd-nspawn, for the
 * single-VM e2e tests (recipe: notes/testbed.md). The root is built once by `build.sh` into a
 * cache and copied per boot, so every test file starts from a clean host.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, rmdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { release, track } from "../test-support/leftovers.ts";

const here = dirname(fileURLToPath(import.meta.url));
/** The monorepo root; bound read-only at /srv/project inside the testbed. */
export const PROJECT_DIR = resolve(here, "../..");
export const PROJECT_MOUNT = "/srv/project";
/** Where the host's Node binary appears inside the testbed. */
export const TESTBED_NODE = "/usr/bin/node";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Testbed {
  /** PID (in the host's namespace) of the testbed's systemd. */
  readonly pid: number;
  /** The testbed's root seen from the host (`/proc/<pid>/root`). */
  readonly root: string;
  /** Runs a command inside the testbed (all namespaces) and returns its output. */
  run(cmd: string, args: readonly string[], options?: { input?: string; timeoutMs?: number }): CommandResult;
  /** Like `run` but throws on a non-zero exit. Returns stdout. */
  sh(script: string): string;
  /** Stops the testbed and removes its copy of the root. Idempotent. */
  stop(): Promise<void>;
  /**
   * Reboots the machine: `systemctl reboot` inside, then the same root boots again (nspawn exits
   * on a reboot; its service unit would restart it, here we do). `pid` and `root` change.
   */
  reboot(): Promise<void>;
}

/** True when running in CI (`CI` set to anything but empty, `0` or `false`), where nothing may skip. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== "" && ci !== "0" && ci !== "false";
}

/** Why the testbed cannot run here, or undefined when it can (no CI check; see {@link testbedUnavailable}). */
export function testbedProblem(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root";
  for (const tool of ["systemd-nspawn", "debootstrap", "nsenter", "mksquashfs"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  if (!existsSync("/dev/loop-control")) return "no /dev/loop-control";
  return undefined;
}

/**
 * Why the testbed cannot run here, or undefined when it can. A developer's machine without it
 * skips the e2e suites (with a warning); in CI a missing testbed throws, so the suite that
 * needs it fails instead of passing by skipping.
 */
export function testbedUnavailable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const problem = testbedProblem();
  if (problem !== undefined && inCi(env)) {
    throw new Error(
      `the systemd testbed is required in CI but cannot run here: ${problem} (CI runs as root after .ci/run builds the testbeds)`,
    );
  }
  return problem;
}

/** Builds (or reuses from the cache) the testbed root and returns its path. */
export function buildTestbed(suite = "bookworm", extra = ""): string {
  const r = spawnSync("bash", [join(here, "build.sh")], {
    encoding: "utf8",
    timeout: 15 * 60_000,
    env: { ...process.env, GREENTIC_TESTBED_SUITE: suite, GREENTIC_TESTBED_EXTRA: extra },
  });
  if (r.status !== 0) throw new Error(`testbed build failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim().split("\n").at(-1)!;
}

/** Boots a fresh copy of the testbed and waits until systemd reports running (or degraded). */
export async function bootTestbed(
  options: {
    name?: string;
    timeoutMs?: number;
    env?: Record<string, string>;
    suite?: string;
    /** Extra Debian packages (the build.sh variant GREENTIC_TESTBED_EXTRA), e.g. "cloud-init,locales". */
    extra?: string;
    /** Bind the host's node and this repository in (default true); off for a host with neither. */
    bindHost?: boolean;
    /** Called with the root copy before it boots (e.g. to write a cloud-init seed). */
    prepare?: (root: string) => void;
  } = {},
): Promise<Testbed> {
  const cached = buildTestbed(options.suite, options.extra);
  const work = mkdtempSync("/var/tmp/greentic-testbed-");
  const machine = options.name ?? `gtb${process.pid}`;
  // Run nspawn in its own cgroup in every hierarchy it uses: otherwise the testbed's systemd
  // shares its root cgroup with the host's processes and may kill them when it stops units.
  const cgroups = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"]
    .filter((h) => existsSync(`${h}/cgroup.procs`))
    .map((h) => `${h}/greentic-testbed-${machine}`);
  // The machine is detached: if this worker dies before stop(), the run's teardown stops it and
  // removes its copy of the root (tracked from here, as the copy is written).
  track({ dir: work, cgroups });
  const root = join(work, "root");
  execFileSync("cp", ["-a", "--reflink=auto", cached, root]);
  options.prepare?.(root);
  // Loop devices must exist on the host for squashfs loop mounts inside; make a few spare ones.
  for (let i = 0; i < 16; i++)
    if (!existsSync(`/dev/loop${i}`)) spawnSync("mknod", ["-m", "0660", `/dev/loop${i}`, "b", "7", String(i)]);
  const loops = readdirSync("/dev")
    .filter((n) => /^loop\d+$/.test(n))
    .map((n) => `--bind=/dev/${n}`);
  const node = realpathSync(process.execPath);
  const log = openSync(join(work, "nspawn.log"), "a");
  const enter = cgroups.map((c) => `mkdir -p ${c} && echo $$ > ${c}/cgroup.procs`).join(" && ");
  const args = [
    "-c",
    `${enter || "true"} && exec systemd-nspawn "$@"`,
    "sh",
    "-q",
    "--register=no",
    "--keep-unit",
    "--console=passive",
    "--capability=all",
    // runc gives each container a session keyring and a BPF device filter; nspawn's default
    // seccomp filter blocks both syscalls for processes started by the testbed's systemd.
    "--system-call-filter=@keyring bpf",
    "--bind=/dev/loop-control",
    ...loops,
    ...(options.bindHost === false
      ? []
      : [`--bind-ro=${node}:${TESTBED_NODE}`, `--bind-ro=${PROJECT_DIR}:${PROJECT_MOUNT}`]),
    "-D",
    root,
    "-M",
    machine,
    "-b",
  ];
  let nspawnPid = 0;
  let exited = false;
  const start = () => {
    exited = false;
    const child = spawn("sh", args, {
      detached: true,
      stdio: ["ignore", log, log], // A cgroup v2 hierarchy inside (as on current Debian/Ubuntu) lets rootful podman + runc
      // create the container's scope; the host's hybrid v1 controllers are read-only inside.
      env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1", ...options.env },
    });
    nspawnPid = child.pid!;
    child.unref();
    child.on("exit", () => (exited = true));
  };
  start();

  let deadline = Date.now() + (options.timeoutMs ?? 90_000);
  let pid = 0;
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(nspawnPid, "SIGTERM");
      } catch {
        exited = true;
      }
      const until = Date.now() + 30_000;
      while (!exited && Date.now() < until) await sleep(200);
      if (!exited) {
        try {
          process.kill(nspawnPid, "SIGKILL");
        } catch {}
        await sleep(500);
      }
    }
    // Loop devices left attached by a killed testbed would leak; detach those backed by our copy.
    const losetup = spawnSync("losetup", ["-nO", "NAME,BACK-FILE"], { encoding: "utf8" });
    for (const line of losetup.stdout?.split("\n") ?? []) {
      const [dev, file] = line.trim().split(/\s+/);
      if (dev && file?.startsWith(root)) spawnSync("losetup", ["-d", dev]);
    }
    rmSync(work, { recursive: true, force: true });
    for (const c of cgroups) removeCgroup(c);
    release(work);
  };

  const findPid = async () => {
    pid = 0;
    while (!pid) {
      if (exited || Date.now() > deadline) {
        const text = readFileSync(join(work, "nspawn.log"), "utf8");
        await stop();
        throw new Error(`testbed did not boot: ${text.slice(-2000)}`);
      }
      pid = findSystemd(nspawnPid);
      if (!pid) await sleep(200);
    }
  };
  await findPid();

  const run: Testbed["run"] = (cmd, args, opts = {}) => {
    // Own session (setsid): a stray `kill 0` inside must not reach the test runner's process group.
    const r = spawnSync("setsid", ["--wait", "nsenter", "-t", String(pid), "-a", cmd, ...args], {
      encoding: "utf8",
      input: opts.input,
      timeout: opts.timeoutMs ?? 120_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
  };
  const sh = (script: string) => {
    const r = run("sh", ["-c", script]);
    if (r.code !== 0) throw new Error(`testbed: ${script} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const booted = async () => {
    for (;;) {
      const state = run("systemctl", ["is-system-running"]).stdout.trim();
      if (state === "running" || state === "degraded") break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`testbed systemd stuck in state ${JSON.stringify(state)}`);
      }
      await sleep(300);
    }
  };
  await booted();
  const reboot = async () => {
    run("systemctl", ["reboot"]);
    const until = Date.now() + 60_000;
    while (!exited && Date.now() < until) await sleep(200);
    if (!exited) throw new Error("testbed did not go down within 60 s of systemctl reboot");
    start();
    deadline = Date.now() + (options.timeoutMs ?? 90_000);
    await findPid();
    await booted();
  };
  return {
    get pid() {
      return pid;
    },
    get root() {
      return `/proc/${pid}/root`;
    },
    run,
    sh,
    stop,
    reboot,
  };
}

/** Removes a cgroup directory tree, deepest first (cgroupfs only allows rmdir of empty groups). */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
  try {
    rmdirSync(dir);
  } catch {
    // still populated (a process that outlived the testbed); left for the next run to report
  }
}

/** The `systemd` process whose parent is the nspawn process. */
function findSystemd(nspawnPid: number): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[2] === String(nspawnPid) && m[1] === "systemd") return Number(entry);
    } catch {
      // the process went away while we looked
    }
  }
  return 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
