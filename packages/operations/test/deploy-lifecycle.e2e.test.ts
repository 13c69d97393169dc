import { existsSync } from "node:fs";
import { join } from "node:path";
import { CORE_SLOTS } from "@greentic/deploy-spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditList,
  createOperations,
  deploy,
  envDestroy,
  envDoctor,
  envInit,
  envShow,
  revisionsArchive,
  revisionsShow,
  revisionsStage,
  trafficRollback,
  trafficSet,
  trafficShow,
  type OperationsContext,
  type ProgressEvent,
} from "../src/index.js";
import { buildFixture, expectKind, fetchText, isAlive, makeTemp, removeTemp, waitGone } from "./helpers.js";

// One environment walked through the whole acceptance story, step by step (tests share state
// and run in order). Real bundles, real runtime processes, real HTTP.
describe("deploy → canary → rollback → archive → destroy (local-process)", { timeout: 120_000 }, () => {
  let temp: string;
  let ops: OperationsContext;
  let v1Bundle: string;
  let v2Bundle: string;
  const events: ProgressEvent[] = [];
  const pids = new Set<number>();
  const state: {
    deploymentId?: string;
    v1?: string;
    v2?: string;
    v1Url?: string;
    v2Url?: string;
    envUrl?: string;
    routerPid?: number;
  } = {};

  async function recordPid(revisionId: string): Promise<number> {
    const shown = await revisionsShow(ops, "local", revisionId);
    expect(shown.runtime?.state).toBe("running");
    const pid = shown.runtime!.pid!;
    pids.add(pid);
    return pid;
  }

  beforeAll(async () => {
    temp = await makeTemp("e2e");
    v1Bundle = await buildFixture("hello", temp, "1.0.0");
    v2Bundle = await buildFixture("hello-v2", temp, "2.0.0");
    ops = createOperations({
      storeRoot: join(temp, "store"),
      onProgress: (e) => events.push(e),
      warmTimeoutMs: 60_000,
    });
  });

  afterAll(async () => {
    // Safety net when a step failed half-way: never leave a runtime behind.
    if (ops !== undefined && existsSync(join(temp, "store", "local"))) {
      await envDestroy(ops, "local", { confirm: true }).catch(() => undefined);
    }
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    await removeTemp(temp);
  });

  it("env init creates the local environment, then leaves it untouched without audit churn", async () => {
    const created = await envInit(ops, {});
    expect(created).toMatchObject({
      environment_id: "local",
      outcome: "created",
      pack_count: 6,
      idempotency: "applied",
    });
    expect([...created.bound_slots].sort()).toEqual([...CORE_SLOTS].sort());
    const before = (await auditList(ops, "local")).events.length;
    const again = await envInit(ops, { environment_id: "local" });
    expect(again).toMatchObject({ outcome: "untouched", etag: created.etag, generation: created.generation });
    expect((await auditList(ops, "local")).events.length).toBe(before);
  });

  it("deploys v1: a running revision whose page answers", async () => {
    const result = await deploy(ops, { bundle_path: v1Bundle, bundle_id: "hello" });
    expect(result).toMatchObject({
      environment_id: "local",
      bundle_id: "hello",
      customer_id: "local-dev",
      created_deployment: true,
    });
    expect(result.previous_revision_id).toBeUndefined();
    expect(result.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(result.environment_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(result.environment_url).not.toBe(result.url);
    state.deploymentId = result.deployment_id;
    state.v1 = result.revision_id;
    state.v1Url = result.url!;
    state.envUrl = result.environment_url!;
    const page = await fetchText(result.url!);
    expect(page.status).toBe(200);
    expect(page.text).toContain("This is version 1 of the hello bundle.");
    const routed = await fetchText(result.environment_url!);
    expect(routed).toMatchObject({ status: 200, revision: result.revision_id });
    expect(routed.text).toContain("This is version 1 of the hello bundle.");
    await recordPid(result.revision_id);
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(["deploy.bundle", "deploy.stage", "deploy.warm", "deploy.traffic", "deploy.done"]),
    );

    const { environment, router } = await envShow(ops, "local");
    expect(router).toEqual({ state: "running", pid: expect.any(Number), url: result.environment_url, restarts: 0 });
    state.routerPid = router!.pid!;
    pids.add(state.routerPid);
    const revision = environment.revisions.find((r) => r.revision_id === result.revision_id)!;
    expect(revision).toMatchObject({ lifecycle: "ready", sequence: 1 });
    expect(revision.bundle_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(environment.traffic_splits).toEqual([
      expect.objectContaining({
        deployment_id: result.deployment_id,
        entries: [{ revision_id: result.revision_id, weight_bps: 10_000 }],
      }),
    ]);
  });

  it("deploys v2 on the same deployment and keeps v1 ready for rollback", async () => {
    const result = await deploy(ops, { bundle_path: v2Bundle, bundle_id: "hello" });
    expect(result).toMatchObject({
      deployment_id: state.deploymentId,
      created_deployment: false,
      previous_revision_id: state.v1,
    });
    state.v2 = result.revision_id;
    state.v2Url = result.url!;
    // The environment keeps its URL (same router process); it now serves v2.
    expect(result.environment_url).toBe(state.envUrl);
    expect((await envShow(ops, "local")).router).toEqual({
      state: "running",
      pid: state.routerPid,
      url: state.envUrl,
      restarts: 0,
    });
    expect(await fetchText(state.envUrl!)).toMatchObject({ status: 200, revision: state.v2 });
    expect((await fetchText(result.url!)).text).toContain("This is version 2 of the hello bundle.");
    expect((await fetchText(state.v1Url!)).text).toContain("This is version 1 of the hello bundle.");
    await recordPid(result.revision_id);
    const { environment } = await envShow(ops, "local");
    expect(environment.revisions.map((r) => [r.sequence, r.lifecycle])).toEqual([
      [1, "ready"],
      [2, "ready"],
    ]);
  });

  it("traffic set refuses a revision that is not ready, then splits 90/10 and the router follows exactly", async () => {
    const staged = await revisionsStage(ops, {
      environment_id: "local",
      deployment_id: state.deploymentId!,
      bundle_path: v1Bundle,
    });
    expect(staged.revision).toMatchObject({ lifecycle: "staged", sequence: 3 });
    const refused = await expectKind(
      trafficSet(ops, {
        environment_id: "local",
        deployment_id: state.deploymentId!,
        entries: [
          { revision_id: state.v2!, weight_percent: 90 },
          { revision_id: staged.revision.revision_id, weight_percent: 10 },
        ],
        idempotency_key: "canary-staged",
      }),
      "conflict",
    );
    expect(refused.details).toMatchObject({ code: "revision-not-ready" });
    await revisionsArchive(ops, { environment_id: "local", revision_id: staged.revision.revision_id });

    const split = await trafficSet(ops, {
      environment_id: "local",
      deployment_id: state.deploymentId!,
      entries: [
        { revision_id: state.v1!, weight_percent: 90 },
        { revision_id: state.v2!, weight_bps: 1_000 },
      ],
      idempotency_key: "canary-1",
    });
    expect(split.split.entries).toEqual([
      { revision_id: state.v1, weight_bps: 9_000 },
      { revision_id: state.v2, weight_bps: 1_000 },
    ]);
    expect(split).toMatchObject({ idempotency: "applied", environment_url: state.envUrl });
    const canary = {
      environment_id: "local",
      deployment_id: state.deploymentId!,
      entries: [
        { revision_id: state.v2!, weight_bps: 1_000 },
        { revision_id: state.v1!, weight_bps: 9_000 },
      ],
      idempotency_key: "canary-1",
    };
    // A retry (entries in another order are the same split) replays; other weights under the same key are refused.
    expect(await trafficSet(ops, { ...canary, entries: [...canary.entries].reverse() })).toMatchObject({
      generation: split.generation,
    });
    const reused = { ...canary, entries: [{ revision_id: state.v2!, weight_bps: 10_000 }] };
    await expectKind(trafficSet(ops, reused), "idempotency-conflict");
    await expectKind(
      trafficSet(
        ops,
        { ...canary, idempotency_key: "canary-2" },
        { precondition: { expected_generation: split.generation - 1 } },
      ),
      "precondition-failed",
    );
    const shown = await trafficShow(ops, "local", { deploymentId: state.deploymentId });
    expect(shown.runtime_config?.revisions.map((r) => [r.revision_id, r.weight_bps])).toEqual([
      [state.v1, 9_000],
      [state.v2, 1_000],
    ]);
    expect(shown.environment_url).toBe(state.envUrl);

    // Smooth weighted round-robin: any 10 consecutive requests split exactly 9:1.
    const served: Record<string, number> = {};
    for (let i = 0; i < 10; i++) {
      const { status, revision } = await fetchText(state.envUrl!);
      expect(status).toBe(200);
      served[revision!] = (served[revision!] ?? 0) + 1;
    }
    expect(served).toEqual({ [state.v1!]: 9, [state.v2!]: 1 });
  });

  it("archive refuses v1 while it has traffic; after rollback it is archived and its process is gone", async () => {
    const refused = await expectKind(
      revisionsArchive(ops, { environment_id: "local", revision_id: state.v1! }),
      "conflict",
    );
    expect(refused.details).toMatchObject({ code: "active-traffic-reference" });

    const rolled = await trafficRollback(ops, { environment_id: "local", deployment_id: state.deploymentId! });
    expect(rolled.restored.entries).toEqual([{ revision_id: state.v2, weight_bps: 10_000 }]);
    expect(rolled.new_generation).toBe(rolled.previous_generation + 1);
    expect(rolled.environment_url).toBe(state.envUrl);
    expect(await fetchText(state.envUrl!)).toMatchObject({ status: 200, revision: state.v2 });

    const v1Pid = (await revisionsShow(ops, "local", state.v1!)).runtime!.pid!;
    const archived = await revisionsArchive(ops, { environment_id: "local", revision_id: state.v1! });
    expect(archived.revision.lifecycle).toBe("archived");
    expect(await waitGone(v1Pid)).toBe(true);
    expect((await fetchText(state.v2Url!)).text).toContain("version 2");
    expect(await fetchText(state.envUrl!)).toMatchObject({ status: 200, revision: state.v2 });
  });

  it("doctor reports the environment healthy", async () => {
    const report = await envDoctor(ops, "local");
    expect(report).toMatchObject({
      environment_id: "local",
      validate: { status: "ok" },
      unknown_kinds: [],
      stale_revisions: [],
      missing_slots: [],
      has_runtime: true,
    });
  });

  it("env destroy needs confirmation, then stops every revision and removes the environment", async () => {
    await expectKind(envDestroy(ops, "local", { confirm: false }), "invalid-argument");
    const destroyed = await envDestroy(ops, "local", { confirm: true });
    expect(destroyed).toMatchObject({ environment_id: "local", destroyed: true });
    expect(destroyed.stopped_revisions).toContain(state.v2);
    expect(pids).toContain(state.routerPid);
    for (const pid of pids) expect(await waitGone(pid), `pid ${pid} still running`).toBe(true);
    await expectKind(envShow(ops, "local"), "not-found");
  });
});
