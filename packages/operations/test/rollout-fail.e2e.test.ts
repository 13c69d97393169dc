import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditList,
  createOperations,
  deploy,
  envDestroy,
  envInit,
  envShow,
  revisionsArchive,
  revisionsDrain,
  revisionsShow,
  readRollout,
  rolloutRun,
  rolloutStart,
  type OperationsContext,
} from "../src/index.js";
import { buildFixture, expectKind, isAlive, makeTemp, removeTemp, waitGone } from "./helpers.js";

// A rollout that failed on a breach, on the local deployer with real runtime processes: the
// runner died after recording the breach and before restoring traffic (the window a crash can
// hit), and its restart finishes the job: all traffic back on stable, then the candidate
// `failed`, audited with the figures. A failed revision is then not drained (the reference has
// no failed → draining) but archived, which stops its process.
describe("a rollout's breach fails its candidate (local-process)", { timeout: 120_000 }, () => {
  let temp: string;
  let ops: OperationsContext;
  const pids = new Set<number>();

  beforeAll(async () => {
    temp = await makeTemp("rollout-fail");
    ops = createOperations({ storeRoot: join(temp, "store"), warmTimeoutMs: 60_000 });
  });

  afterAll(async () => {
    if (ops !== undefined && existsSync(join(temp, "store", "local")))
      await envDestroy(ops, "local", { confirm: true }).catch(() => undefined);
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    await removeTemp(temp);
  });

  it("after traffic is back on stable the candidate is failed, audited with the figures; drain is refused, archive stops it", async () => {
    await envInit(ops, {});
    const v1 = await deploy(ops, { bundle_path: await buildFixture("hello", temp, "1.0.0"), bundle_id: "hello" });
    const v2 = await deploy(ops, {
      bundle_path: await buildFixture("hello-v2", temp, "2.0.0"),
      bundle_id: "hello",
      traffic_bps: 1_000,
    });
    const candidatePid = (await revisionsShow(ops, "local", v2.revision_id)).runtime!.pid!;
    pids.add(candidatePid);
    pids.add((await revisionsShow(ops, "local", v1.revision_id)).runtime!.pid!);

    const { rollout } = await rolloutStart(ops, {
      environment_id: "local",
      to: v2.revision_id,
      steps: "10,100",
      interval: "60s",
      max_error_rate: "1%",
      foreground: true,
    });
    // What the runner's "fail" commit leaves when it dies before sending traffic back.
    const at = new Date().toISOString();
    const figures = {
      revision_id: v2.revision_id,
      requests: 40,
      errors_5xx: 8,
      error_rate: 0.2,
      p99_ms: 12,
      ready: null,
    };
    const reason = "5xx rate 20.00% (8 of 40 requests) above 1.00%";
    const crashed = {
      ...rollout,
      status: "failed",
      applied_step: 0,
      step_started_at: at,
      finished_at: at,
      failure: { reason, step_bps: 1_000, at, figures },
      measurements: [{ step_bps: 1_000, at, ...figures }],
    };
    const file = join(await ops.store.dataDir("local", "rollouts"), `${rollout.rollout_id}.json`);
    await writeFile(file, `${JSON.stringify(crashed, null, 2)}\n`);
    expect((await envShow(ops, "local")).environment.revisions.map((r) => r.lifecycle)).toEqual(["ready", "ready"]);

    const done = await rolloutRun(ops, "local", rollout.rollout_id, { pollMs: 50 });
    expect(done).toMatchObject({ status: "failed", traffic_restored: true, failure: { reason, figures } });

    const { environment } = await envShow(ops, "local");
    expect(environment.revisions.map((r) => [r.revision_id, r.lifecycle])).toEqual([
      [v1.revision_id, "ready"],
      [v2.revision_id, "failed"],
    ]);
    expect(environment.traffic_splits.map((s) => s.entries)).toEqual([
      [{ revision_id: v1.revision_id, weight_bps: 10_000 }],
    ]);
    const events = (await auditList(ops, "local")).events;
    const back = events.find(
      (e) => e.noun === "traffic" && e.idempotency_key === `rollout-${rollout.rollout_id}-back-to-stable`,
    )!;
    const restored = events.find((e) => e.noun === "rollout" && e.verb === "traffic-restored")!;
    expect(restored.target).toEqual({
      rollout_id: rollout.rollout_id,
      deployment_id: v2.deployment_id,
      stable_revision_id: v1.revision_id,
      candidate_revision_id: v2.revision_id,
      status: "failed",
      step_bps: 1_000,
      candidate_status: "failed",
      candidate_lifecycle: { from: "ready", to: "failed" },
      reason,
      figures,
    });
    expect(restored.result).toEqual({ outcome: "ok" });
    // The candidate became failed only after the split back to stable was committed.
    expect(back.new_generation!).toBeLessThan(restored.new_generation!);

    // Its runner restarted once more: nothing changes, nothing is audited again.
    const count = events.length;
    expect((await rolloutRun(ops, "local", rollout.rollout_id, { pollMs: 50 })).updated_at).toBe(done.updated_at);
    expect((await auditList(ops, "local")).events.length).toBe(count);
    expect((await readRollout(ops, "local", rollout.rollout_id)).status).toBe("failed");

    // Still running until it is archived; drain is not a way out of failed.
    expect(isAlive(candidatePid)).toBe(true);
    const drain = await expectKind(
      revisionsDrain(ops, { environment_id: "local", revision_id: v2.revision_id }),
      "conflict",
    );
    expect(drain.message).toBe(`revision ${v2.revision_id} is failed; drain expects one of [ready]`);
    expect(drain.details).toMatchObject({ code: "invalid-lifecycle-transition", lifecycle: "failed" });
    expect((await revisionsShow(ops, "local", v2.revision_id)).revision.lifecycle).toBe("failed");
    const archived = await revisionsArchive(ops, { environment_id: "local", revision_id: v2.revision_id });
    expect({ lifecycle: archived.revision.lifecycle, path: archived.path }).toEqual({
      lifecycle: "archived",
      path: ["failed", "archived"],
    });
    expect(await waitGone(candidatePid)).toBe(true);
    expect(isAlive((await revisionsShow(ops, "local", v1.revision_id)).runtime!.pid!)).toBe(true);
  });
});
