import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { op, tempDir, type OpResult, type RunOptions } from "../../helpers.js";

/**
 * A DeploymentSpec on disk with its bundle and runtime files, and an empty staging root.
 * Staging (`--root`) only hashes the bundle and runtime, so small plain files stand in for them.
 */
export interface SingleVm {
  dir: string;
  /** The staging root (exists, empty). */
  root: string;
  spec: string;
  bundle: string;
  runtime: string;
  /** Writes a file next to the spec and returns its path. */
  file(name: string, content: string): string;
  /** Runs `op single-vm ...`. */
  op(args: readonly string[], options?: RunOptions): OpResult;
  /** Runs `op single-vm ... --json`, asserts exit 0 and returns `result`. */
  ok(args: readonly string[], options?: RunOptions): any;
}

export function specYaml(s: {
  bundle: string;
  runtime: string;
  name?: string;
  adminBind?: string;
  extra?: string;
}): string {
  return [
    "apiVersion: greentic.ai/v1alpha1",
    "kind: Deployment",
    "metadata:",
    `  name: ${s.name ?? "acme"}`,
    "spec:",
    "  bundle:",
    `    source: file://${s.bundle}`,
    "  runtime:",
    `    binary: ${s.runtime}`,
    "    admin:",
    `      bind: "${s.adminBind ?? "127.0.0.1:9443"}"`,
    ...(s.extra ? [s.extra] : []),
    "",
  ].join("\n");
}

export function singleVm(): SingleVm {
  const dir = tempDir("op-single-vm-");
  const root = join(dir, "root");
  mkdirSync(root);
  const file = (name: string, content: string) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const bundle = file("acme.gtbundle", "bundle v1\n");
  const runtime = file("runtime.js", "console.log('runtime');\n");
  const spec = file("deployment.yaml", specYaml({ bundle, runtime }));
  const run = (args: readonly string[], options?: RunOptions) => op(["single-vm", ...args], options);
  return {
    dir,
    root,
    spec,
    bundle,
    runtime,
    file,
    op: run,
    ok: (args, options) => {
      const r = run([...args, "--json"], options);
      expect(r.status, `op single-vm ${args.join(" ")}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
      expect(r.json?.noun).toBe("single-vm");
      return r.json.result;
    },
  };
}
