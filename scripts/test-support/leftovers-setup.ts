import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LEFTOVERS_ENV, stopLeftovers } from "./leftovers.ts";

/**
 * Vitest global setup: the registry of directories whose processes the run must not leave
 * behind (see leftovers.ts). Workers inherit its path through the environment. Whatever is
 * still tracked is stopped at the teardown (a worker that crashed or timed out before its
 * afterAll) and when the main process is interrupted (SIGINT, SIGTERM) or exits, before any
 * afterAll had a chance to run.
 */
export default function leftoversSetup(): () => void {
  const registry = mkdtempSync(join(tmpdir(), "greentic-test-run-"));
  process.env[LEFTOVERS_ENV] = registry;
  let done = false;
  const cleanup = (why: string, interrupted: boolean) => {
    if (done) return;
    done = true;
    // Interrupted, the workers may still be running tests that would start more: stop them first.
    if (interrupted) for (const pid of childrenOf(process.pid)) kill(pid);
    const left = stopLeftovers(registry);
    rmSync(registry, { recursive: true, force: true });
    if (left.length > 0)
      console.warn(
        `[leftovers] ${why}: stopped what ${left.length} test director${left.length === 1 ? "y" : "ies"} still ran: ${left.map((e) => e.dir).join(", ")}`,
      );
  };
  // Vitest answers SIGINT/SIGTERM with process.exit(), which runs the exit listeners below
  // (synchronously, as `cleanup` is); its workers die with it or are killed by it.
  const onExit = () => cleanup("the run was interrupted", true);
  process.once("exit", onExit);
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup(`the run received ${signal}`, true);
    // Listening for the signal took away Node's default: exit as the signal would have.
    if (process.listenerCount(signal) === 0) process.exit(128 + (signal === "SIGINT" ? 2 : 15));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return () => {
    process.off("exit", onExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    cleanup("at the end of the run", false);
  };
}

function childrenOf(parent: number): number[] {
  return readdirSync("/proc").flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return ppid === parent ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}
