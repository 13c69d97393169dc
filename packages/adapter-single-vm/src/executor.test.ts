import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createHostExecutor } from "./executor.js";

/**
 * Runs the executor in a process of its own, which exits once nothing is pending: a timer left
 * armed by a failed spawn would keep it alive for the command's whole timeout.
 */
function runAlone(cmd: string, args: string[], timeoutMs: number) {
  const executor = new URL("./executor.ts", import.meta.url).href;
  const script = `import { createHostExecutor } from ${JSON.stringify(executor)};
const r = await createHostExecutor().run(${JSON.stringify(cmd)}, ${JSON.stringify(args)}, { timeoutMs: ${timeoutMs} });
console.log(JSON.stringify(r));`;
  const started = performance.now();
  const child = spawnSync(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return { ...child, ms: performance.now() - started };
}

describe("host executor", () => {
  it("a command that cannot start answers 127, and no timer outlives it", () => {
    // Before the fix, spawn's own timeout timer held the process for the full 60 s (killed here at 30 s).
    const r = runAlone("/nonexistent/greentic/node", ["--version"], 60_000);
    expect(r.signal).toBe(null);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      code: 127,
      stdout: "",
      stderr: "spawn /nonexistent/greentic/node ENOENT",
    });
    expect(r.ms).toBeLessThan(5_000);
  });

  it("a command that finishes releases its timer too", () => {
    const r = runAlone("sh", ["-c", "echo out; echo err >&2; exit 3"], 60_000);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
    expect(r.ms).toBeLessThan(5_000);
  });

  it("a command past its timeout is killed", async () => {
    const started = performance.now();
    const r = await createHostExecutor().run("sleep", ["30"], { timeoutMs: 300 });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(r).toEqual({ code: 128, stdout: "", stderr: "" });
  });
});
