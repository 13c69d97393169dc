import { beforeAll, describe, expect, it } from "vitest";
import type { Deployer, EnvPackHandler } from "@greentic/env-packs";
import { formatConformanceFailures, runDeployerConformance } from "@greentic/env-packs/conformance";
import { GreenticError } from "@greentic/deploy-spec";
import { LocalProcessDeployer, localProcessDeployerHandler } from "../src/index.js";
import { buildRuntime, conformanceBundle, contextFor, testDir } from "./helpers.js";

beforeAll(async () => {
  await buildRuntime();
}, 180_000);

/** A deployer that forgets to validate splits and misreports what it applies. */
function brokenHandler(): EnvPackHandler {
  const real = new LocalProcessDeployer();
  const applied: { deployment_id: string; bundle_id: string; revision_id: string; weight_bps: number }[] = [];
  const deployer: Deployer = {
    stage: (ctx, request) => real.stage(ctx, request),
    warm: (ctx, request) => real.warm(ctx, request),
    drain: (ctx, revision) => real.drain(ctx, revision),
    // Accepts anything, even an unknown revision.
    archive: async () => {},
    async applyTrafficSplit(ctx, { split }) {
      applied.splice(
        0,
        applied.length,
        ...split.entries.map((e) => ({ deployment_id: split.deployment_id, bundle_id: split.bundle_id, ...e })),
      );
      return { env_id: ctx.envId, revisions: [...applied] };
    },
    // Reports the first entry only: drift.
    runtimeConfig: async (ctx) => ({ env_id: ctx.envId, revisions: applied.slice(0, 1) }),
    status: (ctx) => real.status(ctx),
    destroy: (ctx) => real.destroy(ctx),
  };
  return { ...localProcessDeployerHandler(), descriptorPath: "broken.deployer.sloppy", deployer };
}

describe("deployer conformance kit", () => {
  it("passes for the built-in local-process deployer", async () => {
    const root = await testDir();
    const result = await runDeployerConformance(localProcessDeployerHandler(), {
      ctxFactory: (check) => contextFor(root, `conf-${check}`),
      bundlePath: await conformanceBundle(),
    });
    expect(result.ok, formatConformanceFailures(result)).toBe(true);
    expect(result.checks).toHaveLength(6);
  }, 180_000);

  it("fails a deliberately broken deployer with the reference's failure names", async () => {
    const root = await testDir();
    const result = await runDeployerConformance(brokenHandler(), {
      ctxFactory: (check) => contextFor(root, `broken-${check}`),
      bundlePath: await conformanceBundle(),
      only: ["invalid-split", "unknown-revision", "runtime-config-drift"],
    });
    expect(result.ok).toBe(false);
    expect(result.failures.map((f) => [f.check, f.code])).toEqual([
      ["invalid-split", "InvalidSplitAccepted"],
      ["unknown-revision", "UnknownRevisionAccepted"],
      ["runtime-config-drift", "RuntimeConfigDrift"],
    ]);
  }, 120_000);

  it("reports a wrong error kind as *WrongError", async () => {
    const root = await testDir();
    const handler = brokenHandler();
    handler.deployer!.applyTrafficSplit = async () => {
      throw new GreenticError("conflict", "splits are frozen");
    };
    const result = await runDeployerConformance(handler, {
      ctxFactory: (check) => contextFor(root, check),
      bundlePath: await conformanceBundle(),
      only: ["invalid-split"],
    });
    expect(result.failures.map((f) => f.code)).toEqual(["InvalidSplitWrongError"]);
  }, 60_000);
});
