import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildBundle } from "@greentic/bundle";
import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { HandlerContext, RevisionRef } from "@greentic/env-packs";
import { LocalProcessDeployer } from "../src/index.js";
import { buildRuntime, contextFor, testDir } from "./helpers.js";

const repo = resolve(import.meta.dirname, "../../..");
let bundleFile = "";
let bundleV2 = "";

beforeAll(async () => {
  await buildRuntime();
  const out = await testDirOnce();
  bundleFile = join(out, "hello.gtbundle");
  bundleV2 = join(out, "hello-v2.gtbundle");
  await buildBundle({
    sourceDir: join(repo, "fixtures/bundles/hello"),
    outFile: bundleFile,
    bundleId: "hello",
    version: "1.0.0",
  });
  await buildBundle({
    sourceDir: join(repo, "fixtures/bundles/hello-v2"),
    outFile: bundleV2,
    bundleId: "hello",
    version: "2.0.0",
  });
}, 180_000);

async function testDirOnce(): Promise<string> {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { afterAll } = await import("vitest");
  const dir = await mkdtemp(join(tmpdir(), "env-packs-bundles-"));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function rejection(fn: () => Promise<unknown>): Promise<GreenticError> {
  try {
    await fn();
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Tears the environment down even when an assertion failed, so no runtime is left behind. */
function cleanupAfter(deployer: LocalProcessDeployer, ctx: HandlerContext): void {
  onTestFinished(async () => {
    await deployer.destroy(ctx).catch(() => undefined);
  });
}

const rev = (revision_id: string, deployment_id = "01JDEPLOYMENTAAAAAAAAAAAAA"): RevisionRef => ({
  revision_id,
  deployment_id,
  bundle_id: "hello",
});

describe("greentic.deployer.local-process", () => {
  it("stages, warms a real runtime, serves the page, drains and archives with no process left", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const deployer = new LocalProcessDeployer();
    cleanupAfter(deployer, ctx);
    const r1 = rev("01JREVISIONAAAAAAAAAAAAAA1");

    const staged = await deployer.stage(ctx, { revision: r1, bundlePath: bundleFile });
    expect(staged.bundle_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(staged.unchanged).toBe(false);
    expect(await deployer.stage(ctx, { revision: r1, bundlePath: bundleFile })).toMatchObject({
      bundle_digest: staged.bundle_digest,
      unchanged: true,
    });
    expect((await rejection(() => deployer.stage(ctx, { revision: r1, bundlePath: bundleV2 }))).kind).toBe("conflict");
    expect(await deployer.status(ctx)).toEqual([
      { revision_id: r1.revision_id, deployment_id: r1.deployment_id, state: "stopped" },
    ]);

    const gate = await deployer.warm(ctx, { revision: r1, timeoutMs: 60_000 });
    expect(gate).toMatchObject({ ok: true });
    const [status] = await deployer.status(ctx);
    expect(status).toMatchObject({ state: "running", url: gate.ok ? gate.url : "" });
    const pid = status!.pid!;
    expect(alive(pid)).toBe(true);
    const record = JSON.parse(await readFile(join(root, "local/processes", `${r1.revision_id}.json`), "utf8"));
    expect(record).toMatchObject({
      pid,
      public_port: expect.any(Number),
      admin_port: expect.any(Number),
      log: expect.stringContaining("runtime.log"),
    });

    const page = await fetch(status!.url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(
      await readFile(join(repo, "fixtures/bundles/hello/index.html"), "utf8").then((t) => t.slice(0, 40)),
    );

    // Idempotent: warming a running, ready revision keeps the same process.
    expect(await deployer.warm(ctx, { revision: r1, timeoutMs: 30_000 })).toMatchObject({ ok: true });
    expect((await deployer.status(ctx))[0]!.pid).toBe(pid);

    await deployer.drain(ctx, r1);
    expect(alive(pid)).toBe(false);
    expect((await deployer.status(ctx))[0]!.state).toBe("stopped");
    await deployer.drain(ctx, r1);

    await deployer.archive(ctx, r1);
    await deployer.archive(ctx, r1);
    expect(await deployer.status(ctx)).toEqual([]);
    expect(existsSync(join(root, "local/revisions", r1.revision_id))).toBe(false);
    const archived = await rejection(() => deployer.warm(ctx, { revision: r1 }));
    expect(archived.kind).toBe("not-found");
    expect(archived.message).toContain("archived");
  }, 120_000);

  it("fails the health gate when readiness never answers in time, leaving no process", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const deployer = new LocalProcessDeployer();
    cleanupAfter(deployer, ctx);
    const r1 = rev("01JREVISIONBBBBBBBBBBBBBB1");
    await deployer.stage(ctx, { revision: r1, bundlePath: bundleFile });
    const gate = await deployer.warm(ctx, { revision: r1, timeoutMs: 1 });
    expect(gate.ok).toBe(false);
    if (!gate.ok) {
      expect(gate.failure.failed_checks.length).toBeGreaterThan(0);
      expect(gate.failure.message).toBeTruthy();
    }
    expect(await readdir(join(root, "local/processes"))).toEqual([]);
    expect((await deployer.status(ctx))[0]!.state).toBe("stopped");
    await expectNoRuntimeFor(root);
  }, 60_000);

  it("fails the health gate when the runtime refuses to start (bad runtime script)", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const bin = join(root, "crash.js");
    await (await import("node:fs/promises")).writeFile(bin, "console.error('refusing to start'); process.exit(3);\n");
    const deployer = new LocalProcessDeployer({ runtimeBin: bin });
    cleanupAfter(deployer, ctx);
    const r1 = rev("01JREVISIONCCCCCCCCCCCCCC1");
    await deployer.stage(ctx, { revision: r1, bundlePath: bundleFile });
    const gate = await deployer.warm(ctx, { revision: r1, timeoutMs: 30_000 });
    expect(gate).toMatchObject({ ok: false, failure: { failed_checks: ["process-start"] } });
    if (!gate.ok) expect(gate.failure.message).toContain("refusing to start");
    expect(await readdir(join(root, "local/processes"))).toEqual([]);
  }, 60_000);

  it("checks requests before acting: unknown revision, invalid split, bad answers", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const deployer = new LocalProcessDeployer();
    const r1 = rev("01JREVISIONDDDDDDDDDDDDDD1");
    expect((await rejection(() => deployer.warm(ctx, { revision: r1 }))).kind).toBe("not-found");
    expect((await rejection(() => deployer.drain(ctx, r1))).kind).toBe("not-found");
    expect((await rejection(() => deployer.archive(ctx, r1))).kind).toBe("not-found");
    expect(
      (await rejection(() => deployer.stage(ctx, { revision: { ...r1, revision_id: "../x" }, bundlePath: bundleFile })))
        .kind,
    ).toBe("invalid-argument");
    await deployer.stage(ctx, { revision: r1, bundlePath: bundleFile });
    const split = { deployment_id: r1.deployment_id, bundle_id: "hello" };
    for (const entries of [
      [{ revision_id: r1.revision_id, weight_bps: 9_999 }],
      [],
      [{ revision_id: r1.revision_id, weight_bps: 10_000.5 }],
    ]) {
      const error = await rejection(() =>
        deployer.applyTrafficSplit(ctx, { split: { ...split, entries }, revisions: [r1] }),
      );
      expect(error.kind).toBe("validation");
    }
    const unknown = await rejection(() =>
      deployer.applyTrafficSplit(ctx, {
        split: { ...split, entries: [{ revision_id: "01JUNKNOWN", weight_bps: 10_000 }] },
        revisions: [r1],
      }),
    );
    expect(unknown.kind).toBe("not-found");
    expect((await deployer.runtimeConfig(ctx)).revisions).toEqual([]);
    const applied = await deployer.applyTrafficSplit(ctx, {
      split: { ...split, entries: [{ revision_id: r1.revision_id, weight_bps: 10_000 }] },
      revisions: [r1],
    });
    expect(applied).toEqual({
      env_id: "local",
      revisions: [{ ...split, revision_id: r1.revision_id, weight_bps: 10_000 }],
    });
    expect(await deployer.runtimeConfig(ctx)).toEqual(applied);
    expect((await rejection(() => deployer.archive(ctx, r1))).kind).toBe("conflict");
    const bad = contextFor(root, "local", { answers: { warm_timeout_seconds: "soon" } });
    expect((await rejection(() => deployer.warm(bad, { revision: r1 }))).kind).toBe("validation");
    expect(await deployer.destroy(ctx)).toEqual({ stopped: [] });
  }, 60_000);

  it("does not kill a recycled pid that is not its runtime", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const deployer = new LocalProcessDeployer();
    const r1 = rev("01JREVISIONEEEEEEEEEEEEEE1");
    await deployer.stage(ctx, { revision: r1, bundlePath: bundleFile });
    const { spawn } = await import("node:child_process");
    const stranger = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    onTestFinished(() => void stranger.kill("SIGKILL"));
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      join(await ctx.dataDir("processes"), `${r1.revision_id}.json`),
      JSON.stringify({
        revision_id: r1.revision_id,
        deployment_id: r1.deployment_id,
        pid: stranger.pid,
        public_port: 1,
        admin_port: 2,
        started_at: "",
        log: "",
        runtime_bin: "/nonexistent/bin.js",
      }),
    );
    expect((await deployer.status(ctx))[0]!.state).toBe("failed");
    await deployer.destroy(ctx);
    expect(alive(stranger.pid!)).toBe(true);
  }, 60_000);
});

/** No process on the machine runs with this test's data dir in its environment. */
async function expectNoRuntimeFor(root: string): Promise<void> {
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
    if (environ.includes(root)) {
      const state = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
      expect(state.slice(state.lastIndexOf(")") + 2, state.lastIndexOf(")") + 3), `pid ${pid} still runs`).toMatch(
        /[ZX]/,
      );
    }
  }
}
