import { spawn } from "node:child_process";
import { join } from "node:path";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  timeoutMs?: number;
}

/** A command the staging executor recorded instead of running. */
export interface RecordedCommand {
  cmd: string;
  args: string[];
}

/**
 * The one door to the host: every command the adapter runs and the filesystem root it reads
 * and writes under. The host executor runs commands directly under `/`; a namespace executor
 * runs them inside another machine (`nsenter -t PID -a`) and reaches its files through
 * `/proc/PID/root`; the staging executor (`--root DIR`) writes files under DIR and records
 * commands without running them.
 */
export interface HostExecutor {
  /** Host path prefix for the target's `/`. */
  readonly root: string;
  /** `execute` runs commands; `record` only records them (staging). */
  readonly mode: "execute" | "record";
  /** Commands recorded in `record` mode, in order. */
  readonly recorded: RecordedCommand[];
  run(cmd: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

export interface HostExecutorOptions {
  /** Staging root: render under this directory and execute nothing. */
  root?: string;
  /** Run commands inside the namespaces of this PID (e.g. a systemd-nspawn machine's PID 1). */
  nsenterPid?: number;
}

/** Creates the executor for the real host, a staging root, or a machine reached with nsenter. */
export function createHostExecutor(options: HostExecutorOptions = {}): HostExecutor {
  if (options.root !== undefined && options.root !== "/") {
    const recorded: RecordedCommand[] = [];
    return {
      root: options.root,
      mode: "record",
      recorded,
      async run(cmd, args) {
        recorded.push({ cmd, args: [...args] });
        return { code: 0, stdout: "", stderr: "" };
      },
    };
  }
  const pid = options.nsenterPid;
  return {
    root: pid === undefined ? "/" : `/proc/${pid}/root`,
    mode: "execute",
    recorded: [],
    run: (cmd, args, runOptions) =>
      pid === undefined
        ? spawnCommand(cmd, [...args], runOptions)
        : spawnCommand("nsenter", ["-t", String(pid), "-a", cmd, ...args], runOptions),
  };
}

/** The host path of a target path under the executor's root. */
export function hostPath(executor: HostExecutor, path: string): string {
  return executor.root === "/" ? path : join(executor.root, path);
}

function spawnCommand(cmd: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    // Our own timer rather than spawn's `timeout` option: Node clears that one only on `exit`,
    // which a command that fails to start (ENOENT) never emits, so it kept the process alive
    // for the whole timeout (preflight hung 120 s on a missing binary).
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (result: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const child = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, SYSTEMD_PAGER: "", SYSTEMD_COLORS: "0", LC_ALL: "C" },
    });
    timer = setTimeout(() => child.kill("SIGTERM"), options.timeoutMs ?? 120_000);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (error) => finish({ code: 127, stdout, stderr: `${stderr}${error.message}` }));
    child.on("close", (code, signal) => finish({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}
