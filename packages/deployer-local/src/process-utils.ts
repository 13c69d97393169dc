import { readFile, readdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** True when `pid` names a live (non-zombie) process. */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else (so it is not ours either way).
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return true;
  // The state letter follows the parenthesised command name: `pid (comm) S ...`.
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/**
 * True when `pid` is alive and still the process we started: its command line runs `bin`
 * and its environment names `revisionId`. Guards against a recycled pid after a reboot or
 * a crash. Without /proc (not Linux) only liveness is checked.
 */
export async function isOurProcess(pid: number, bin: string, revisionId: string): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (cmdline === undefined) return process.platform !== "linux";
  if (!cmdline.split("\0").includes(bin)) return false;
  const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => undefined);
  return environ === undefined || environ.split("\0").includes(`GREENTIC_REVISION_ID=${revisionId}`);
}

/** Polls until `pid` is gone or `timeoutMs` passes; true when it is gone. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) return true;
    await sleep(50);
  }
  return !(await isAlive(pid));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // The runtime is started detached, so it leads its own process group: signal the group.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM the process group, wait up to `graceMs`, then SIGKILL and wait again. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (!(await isAlive(pid))) return;
  signalGroup(pid, "SIGTERM");
  if (await waitForExit(pid, graceMs)) return;
  signalGroup(pid, "SIGKILL");
  await waitForExit(pid, 5_000);
}

/**
 * True when `pid` is alive and its command line contains every one of `args` (e.g. the
 * script path and its state dir), so a recycled pid is never mistaken for our process.
 * Without /proc (not Linux) only liveness is checked.
 */
export async function isOurCommand(pid: number, args: readonly string[]): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (cmdline === undefined) return process.platform !== "linux";
  const parts = cmdline.split("\0");
  return args.every((arg) => parts.includes(arg));
}

/**
 * Live processes (not this one) whose command line has `flag` followed by `value`: the routers
 * of one state directory (`--state-dir DIR`). Empty without /proc.
 */
export async function processesWithArgument(flag: string, value: string): Promise<number[]> {
  const names = await readdir("/proc").catch(() => [] as string[]);
  const found: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const parts = (await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "")).split("\0");
    const at = parts.indexOf(flag);
    if (at !== -1 && parts[at + 1] === value && (await isAlive(Number(name)))) found.push(Number(name));
  }
  return found;
}
