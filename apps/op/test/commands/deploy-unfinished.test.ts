import { spawn } from "node:child_process";
import { existsSync, readFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { BIN, REPO, type Store, deployHello, ensureBuilt, helloVariant, store } from "../helpers.js";

// `op deploy` never leaves a half-made revision behind, with real processes: killed right after
// its stage commit, the next deploy of the same bundle takes the `staged` revision over; paused
// past the lock's stale period before its warm commit while another writer commits (so it loses
// its lock), it archives the revision it staged. The crash preload stops or kills the process
// at a commit record's link, matched by path (call numbers vary with lock-refresh timers).
// Paused right after linking its stage commit record while another writer rolls that record
// forward and commits on top, its stage is committed (the store says so: the record was built
// on) and the deploy goes on to warm the revision; its retry with the same key replays it.
const PRELOAD = join(REPO, "apps", "op", "test", "crash", "preload.cjs");
const STALE_MS = 5000;

function armed(s: Store, args: string[], crash: { mode: "kill" | "stop"; when: "before" | "after"; nth: number }) {
  const report = join(s.root, "..", `crash-${crash.mode}.txt`);
  const child = spawn(process.execPath, ["--require", PRELOAD, BIN, ...args, "--store-root", s.root, "--json"], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      NO_COLOR: "1",
      GREENTIC_LOCK_STALE_MS: String(STALE_MS),
      GT_CRASH_ARMED: "1",
      GT_CRASH_MATCH: "^link .*/commits/",
      GT_CRASH_NTH: String(crash.nth),
      GT_CRASH_MODE: crash.mode,
      GT_CRASH_WHEN: crash.when,
      GT_CRASH_REPORT: report,
    },
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal, stderr })),
  );
  const fired = async () => {
    for (let i = 0; i < 600; i++) {
      if (existsSync(report) && readFileSync(report, "utf8").split(" ")[1]?.startsWith("true")) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the crash point was never reached");
  };
  return { child, exited, fired };
}

function revisions(s: Store): { sequence: number; lifecycle: string; revision_id: string }[] {
  return s.ok(["revisions", "list"]).revisions;
}

it("killed after staging: the next deploy of the same bundle warms the staged revision instead of staging another", async () => {
  ensureBuilt();
  // Persistent, so that dispose stops the revisions' processes before removing the files.
  const s = store({ persistent: true });
  onTestFinished(() => s.dispose());
  deployHello(s);
  const v2 = helloVariant("unfinished-kill");
  // The first commit of a redeploy is its stage.
  const run = armed(s, ["deploy", "--bundle", v2], { mode: "kill", when: "after", nth: 1 });
  await run.fired();
  expect((await run.exited).signal).toBe("SIGKILL");
  expect(revisions(s).map((r) => [r.sequence, r.lifecycle])).toEqual([
    [1, "ready"],
    [2, "staged"],
  ]);
  const staged = revisions(s)[1]!.revision_id;

  const retry = s.op(["deploy", "--bundle", v2]);
  expect(retry.status, retry.stderr).toBe(0);
  expect(retry.stderr).toContain(
    `revision ${staged} (@2) was staged from this bundle by an earlier deploy that did not finish; warming it`,
  );
  expect(revisions(s).map((r) => [r.sequence, r.lifecycle])).toEqual([
    [1, "ready"],
    [2, "ready"],
  ]);
  expect(s.ok(["traffic", "show"]).splits[0].entries).toEqual([{ revision_id: staged, weight_bps: 10_000 }]);
}, 180_000);

it("losing its lock before the warm commit: the deploy fails and archives the revision it staged", async () => {
  ensureBuilt();
  // Persistent, so that dispose stops the revisions' processes before removing the files.
  const s = store({ persistent: true });
  onTestFinished(() => s.dispose());
  deployHello(s);
  const v2 = helloVariant("unfinished-lock");
  // Stopped before its second commit (staged -> warming), holding the lock.
  const run = armed(s, ["deploy", "--bundle", v2], { mode: "stop", when: "before", nth: 2 });
  await run.fired();
  // Another writer waits out the stale lock, takes it and commits.
  const other = s.op(["config", "set", "--region", "eu-west"], { env: { GREENTIC_LOCK_STALE_MS: String(STALE_MS) } });
  expect(other.status, other.stderr).toBe(0);
  run.child.kill("SIGCONT");
  const done = await run.exited;
  expect(done.code, done.stderr).toBe(3);
  const list = revisions(s);
  expect(list.map((r) => [r.sequence, r.lifecycle])).toEqual([
    [1, "ready"],
    [2, "archived"],
  ]);
  expect(s.ok(["traffic", "show"]).splits[0].entries).toEqual([
    { revision_id: list[0]!.revision_id, weight_bps: 10_000 },
  ]);
  // Nothing half-made is left to trip over: the same deploy succeeds with a new revision.
  const again = s.ok(["deploy", "--bundle", v2]);
  expect(again.reused_revision).toBe(false);
  expect(revisions(s).map((r) => [r.sequence, r.lifecycle])).toEqual([
    [1, "ready"],
    [2, "archived"],
    [3, "ready"],
  ]);
}, 180_000);

it("paused right after linking its stage commit while the next writer rolls it forward and commits on top: the stage counts as committed and the deploy finishes", async () => {
  ensureBuilt();
  // Persistent, so that dispose stops the revisions' processes before removing the files.
  const s = store({ persistent: true });
  onTestFinished(() => s.dispose());
  deployHello(s);
  const v2 = helloVariant("unfinished-linked");
  const args = ["deploy", "--bundle", v2, "--idempotency-key", "linked"];
  // Stopped right after its first commit record (the stage) is linked, before the fsync.
  const run = armed(s, args, { mode: "stop", when: "after", nth: 1 });
  await run.fired();
  // The stale period passes for the stopped writer (it refreshes nothing): its lock's mtime goes back by it.
  const then = (Date.now() - STALE_MS - 1_000) / 1000;
  utimesSync(join(s.root, ".locks", "local.lock"), then, then);
  // Another writer takes the stale lock, rolls the stage record forward and commits on top.
  const other = s.op(["config", "set", "--region", "eu-west"], { env: { GREENTIC_LOCK_STALE_MS: String(STALE_MS) } });
  expect(other.status, other.stderr).toBe(0);
  run.child.kill("SIGCONT");
  const done = await run.exited;
  expect(done.code, done.stderr).toBe(0);
  const list = revisions(s);
  expect(list.map((r) => [r.sequence, r.lifecycle])).toEqual([
    [1, "ready"],
    [2, "ready"],
  ]);
  const staged = list[1]!.revision_id;
  expect(s.ok(["traffic", "show"]).splits[0].entries).toEqual([{ revision_id: staged, weight_bps: 10_000 }]);
  expect(s.ok(["config", "show"]).host_config.region).toBe("eu-west");

  // The retry with the same key replays it: the same revision, nothing applied twice.
  const retry = s.ok(args);
  expect([retry.revision_id, retry.traffic_bps]).toEqual([staged, 10_000]);
  expect(revisions(s).map((r) => [r.sequence, r.lifecycle])).toEqual([
    [1, "ready"],
    [2, "ready"],
  ]);
  // Every step of the deploy applied exactly once (the retry finds the ready revision of the
  // same bundle and re-confirms it under a step key of its own), and the audit chain verifies.
  const keys = s
    .ok(["audit", "list"])
    .events.map((e: { idempotency_key?: string }) => e.idempotency_key)
    .filter((k: string | undefined) => k?.startsWith("linked"));
  expect(keys).toEqual(["linked:stage", "linked:warm", "linked:traffic", `linked:warm-${staged}`]);
  expect(s.op(["audit", "verify"]).status).toBe(0);
}, 180_000);
