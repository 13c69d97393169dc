import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Environment } from "@greentic/deploy-spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundlesAdd,
  createOperations,
  deploy,
  envDestroy,
  envInit,
  envShow,
  revisionsList,
  revisionsShow,
  revisionsStage,
  revisionsWarm,
  type OperationsContext,
  type ProgressEvent,
} from "../src/index.js";
import { buildFixture, expectKind, isAlive, makeTemp, removeTemp, waitGone } from "./helpers.js";

// Verbs with a side effect outside the store (staging copies a bundle into the data area,
// warming starts a runtime) check the caller's precondition and idempotency key first: a
// refused or replayed call writes no file and starts no process. Real store, real bundles,
// real runtime processes; races are provoked by a second writer on the same store instance.

/** Digest of the whole store tree (names, modes, bytes), minus the runtimes' own log files. */
function storeDigest(root: string): string {
  const h = createHash("sha256");
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = join(rel, name);
      const st = lstatSync(join(root, p));
      if (p.includes("/data/") && p.endsWith(".log")) continue;
      if (st.isSymbolicLink()) h.update(`L ${p} ${readlinkSync(join(root, p))}\n`);
      else if (st.isDirectory()) {
        h.update(`D ${p} ${st.mode}\n`);
        walk(p);
      } else h.update(`F ${p} ${st.mode}\n`).update(readFileSync(join(root, p)));
    }
  };
  walk("");
  return h.digest("hex");
}

/** A transform that changes the environment (a writer racing the verb under test). */
const renamed = (name: string) => (current: Environment | undefined) => ({
  environment: { ...current!, name },
  result: { name },
});

describe("side effects only after the store's checks (local-process)", { timeout: 120_000 }, () => {
  let temp: string;
  let storeRoot: string;
  let ops: OperationsContext;
  let bundle: string;
  let deploymentId: string;
  /** Set by a test to act on progress events (the race hooks). */
  let onEvent: ((e: ProgressEvent) => void) | undefined;
  const pids = new Set<number>();

  const revisionsDir = () => join(storeRoot, "local", "data", "revisions");
  const stagedDirs = () => (existsSync(revisionsDir()) ? readdirSync(revisionsDir()).sort() : []);
  const stage = (extra: Record<string, unknown> = {}, options: Parameters<typeof revisionsStage>[2] = {}) =>
    revisionsStage(
      ops,
      { environment_id: "local", deployment_id: deploymentId, bundle_path: bundle, ...extra },
      options,
    );

  beforeAll(async () => {
    temp = await makeTemp("side-effects");
    storeRoot = join(temp, "store");
    bundle = await buildFixture("hello", temp, "1.0.0");
    ops = createOperations({
      storeRoot,
      warmTimeoutMs: 60_000,
      onProgress: (e) => {
        if (e.event === "local-process.started" && typeof e.pid === "number") pids.add(e.pid);
        onEvent?.(e);
      },
    });
    await envInit(ops, {});
    deploymentId = (await bundlesAdd(ops, { environment_id: "local", bundle_id: "hello" })).deployment.deployment_id;
  });

  afterAll(async () => {
    if (ops !== undefined && existsSync(join(storeRoot, "local")))
      await envDestroy(ops, "local", { confirm: true }).catch(() => undefined);
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    await removeTemp(temp);
  });

  describe("revisions stage", () => {
    it("a bundle path that does not exist or cannot be read is invalid-argument, checked before anything is looked up", async () => {
      const before = storeDigest(storeRoot);
      const absent = join(temp, "absent.gtbundle");
      const missing = await expectKind(stage({ bundle_path: absent }), "invalid-argument");
      expect(missing).toMatchObject({ path: "bundle_path" });
      expect(missing.message).toContain(absent);
      // Input before lookups: an unknown environment or deployment is not reached.
      await expectKind(
        revisionsStage(ops, { environment_id: "ghost", deployment_id: deploymentId, bundle_path: absent }),
        "invalid-argument",
      );
      await expectKind(stage({ bundle_path: join(bundle, "inside") }), "invalid-argument");
      expect((await expectKind(stage({ bundle_path: temp }), "invalid-argument")).message).toContain(
        "not a regular file",
      );
      if (process.getuid?.() !== 0) {
        const locked = join(temp, "locked.gtbundle");
        await writeFile(locked, "x");
        await chmod(locked, 0o000);
        expect((await expectKind(stage({ bundle_path: locked }), "invalid-argument")).message).toContain(
          "cannot be read",
        );
      }
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("a stale precondition copies nothing", async () => {
      const { generation, etag } = await envShow(ops, "local");
      const before = storeDigest(storeRoot);
      await expectKind(stage({}, { precondition: { expected_generation: generation - 1 } }), "precondition-failed");
      await expectKind(
        stage({}, { precondition: { if_match: etag.replace(/^./u, etag.startsWith("0") ? "1" : "0") } }),
        "precondition-failed",
      );
      expect(storeDigest(storeRoot)).toBe(before);
      expect(stagedDirs()).toEqual([]);
    });

    it("a reused key replays without copying again, and refuses another payload without copying", async () => {
      const first = await stage({}, { idempotencyKey: "stage-k1" });
      expect(stagedDirs()).toEqual([first.revision.revision_id]);
      const before = storeDigest(storeRoot);
      // The retry still carries the pin it read before the first call: the key answers first.
      const replay = await stage(
        {},
        { idempotencyKey: "stage-k1", precondition: { expected_generation: first.generation - 1 } },
      );
      expect(replay).toMatchObject({
        idempotency: "replayed",
        revision: first.revision,
        etag: first.etag,
        generation: first.generation,
      });
      await expectKind(stage({ drain_seconds: 5 }, { idempotencyKey: "stage-k1" }), "idempotency-conflict");
      await expectKind(
        stage({ bundle_path: join(temp, "absent.gtbundle") }, { idempotencyKey: "stage-k1" }),
        "invalid-argument",
      );
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("a bundle the deployer refuses (not squashfs: io; no manifest: validation) leaves no copy", async () => {
      const notBundle = join(temp, "notes.gtbundle");
      await writeFile(notBundle, "not a squashfs image\n");
      const tree = join(temp, "no-manifest");
      await mkdir(tree, { recursive: true });
      await writeFile(join(tree, "index.html"), "<p>hi</p>\n");
      const noManifest = join(temp, "no-manifest.gtbundle");
      execFileSync("mksquashfs", [tree, noManifest, "-noappend", "-quiet", "-no-progress", "-all-root"], {
        stdio: ["ignore", "ignore", "pipe"],
      });

      const before = storeDigest(storeRoot);
      // Checked on the user's own file before anything is copied: bad input (exit 2) naming that file.
      const unreadable = await expectKind(stage({ bundle_path: notBundle }), "validation");
      expect(unreadable.details).toMatchObject({ code: "unreadable-archive", bundle_path: notBundle });
      expect(unreadable.message).toContain(`bundle_path: bundle ${notBundle} is not a valid bundle`);
      const invalid = await expectKind(stage({ bundle_path: noManifest }), "validation");
      expect(invalid.details).toMatchObject({ code: "manifest-invalid", bundle_path: noManifest });
      expect(invalid.message).toContain(`bundle ${noManifest} is not a valid bundle`);
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("a writer that moves the environment between the pre-check and the commit: refused, and the copy removed without a trace", async () => {
      const pin = { expected_generation: (await envShow(ops, "local")).generation };
      const dirsBefore = stagedDirs();
      let racing: Promise<unknown> | undefined;
      // Fired by the deployer once the copy is made: this transaction queues ahead of the stage's commit.
      onEvent = (e) => {
        if (e.event === "local-process.staged" && racing === undefined)
          racing = ops.store.transact("local", renamed("raced"), { noun: "env", verb: "update" });
      };
      try {
        await expectKind(stage({}, { precondition: pin }), "precondition-failed");
      } finally {
        onEvent = undefined;
      }
      await racing;
      expect((await envShow(ops, "local")).environment.name).toBe("raced");
      expect(stagedDirs()).toEqual(dirsBefore);
      expect(existsSync(join(storeRoot, "local", "data", "archived"))).toBe(false);
    });

    it("a writer that takes the key between the pre-check and the commit: refused, and the copy removed", async () => {
      const dirsBefore = stagedDirs();
      const revisionsBefore = (await revisionsList(ops, "local")).revisions.length;
      let racing: Promise<unknown> | undefined;
      onEvent = (e) => {
        if (e.event === "local-process.staged" && racing === undefined) {
          racing = ops.store.transact("local", renamed("key taken"), {
            noun: "revisions",
            verb: "stage",
            idempotencyKey: "stage-race",
            request: { other: true },
          });
        }
      };
      try {
        await expectKind(stage({}, { idempotencyKey: "stage-race" }), "idempotency-conflict");
      } finally {
        onEvent = undefined;
      }
      await racing;
      expect(stagedDirs()).toEqual(dirsBefore);
      expect((await revisionsList(ops, "local")).revisions).toHaveLength(revisionsBefore);
    });
  });

  describe("revisions warm", () => {
    let a: string;
    let b: string;
    let aPid: number;

    beforeAll(async () => {
      a = (await stage()).revision.revision_id;
      b = (await stage()).revision.revision_id;
    });

    it("warms once; a retry with the key replays (same process, same url) and starts nothing", async () => {
      const warmed = await revisionsWarm(
        ops,
        { environment_id: "local", revision_id: a },
        { idempotencyKey: "warm-k1" },
      );
      expect(warmed).toMatchObject({ idempotency: "applied", revision: { lifecycle: "ready" } });
      aPid = (await revisionsShow(ops, "local", a)).runtime!.pid!;
      expect(isAlive(aPid)).toBe(true);
      const started = pids.size;
      const before = storeDigest(storeRoot);
      const replay = await revisionsWarm(
        ops,
        { environment_id: "local", revision_id: a },
        { idempotencyKey: "warm-k1" },
      );
      expect(replay).toMatchObject({
        idempotency: "replayed",
        revision: warmed.revision,
        generation: warmed.generation,
        url: warmed.url,
      });
      expect(pids.size).toBe(started);
      expect((await revisionsShow(ops, "local", a)).runtime!.pid).toBe(aPid);
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("the key reused for another revision is refused before the runtime starts or anything is committed", async () => {
      const started = pids.size;
      const before = storeDigest(storeRoot);
      await expectKind(
        revisionsWarm(ops, { environment_id: "local", revision_id: b }, { idempotencyKey: "warm-k1" }),
        "idempotency-conflict",
      );
      expect(pids.size).toBe(started);
      expect((await revisionsShow(ops, "local", b)).revision.lifecycle).toBe("staged");
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("a stale precondition is refused before the runtime starts", async () => {
      const { generation } = await envShow(ops, "local");
      const started = pids.size;
      const before = storeDigest(storeRoot);
      await expectKind(
        revisionsWarm(
          ops,
          { environment_id: "local", revision_id: b },
          { precondition: { expected_generation: generation - 1 } },
        ),
        "precondition-failed",
      );
      // Also for a revision already ready, whose warm would re-confirm (restart) its process.
      await expectKind(
        revisionsWarm(
          ops,
          { environment_id: "local", revision_id: a },
          { precondition: { expected_generation: generation - 1 } },
        ),
        "precondition-failed",
      );
      expect(pids.size).toBe(started);
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("a writer that takes the key while the gate runs: the commit is refused and the process it started is stopped", async () => {
      let racing: Promise<unknown> | undefined;
      // "revisions.warm" comes after staged -> warming is committed and before the deployer starts the runtime.
      onEvent = (e) => {
        if (e.event === "revisions.warm" && racing === undefined) {
          racing = ops.store.transact("local", renamed("warm key taken"), {
            noun: "revisions",
            verb: "warm",
            idempotencyKey: "warm-race",
            request: { other: true },
          });
        }
      };
      const started = pids.size;
      try {
        await expectKind(
          revisionsWarm(ops, { environment_id: "local", revision_id: b }, { idempotencyKey: "warm-race" }),
          "idempotency-conflict",
        );
      } finally {
        onEvent = undefined;
      }
      await racing;
      expect(pids.size).toBe(started + 1);
      const bPid = [...pids].at(-1)!;
      expect(await waitGone(bPid)).toBe(true);
      expect((await revisionsShow(ops, "local", b)).runtime).toMatchObject({ state: "stopped" });
      expect(isAlive(aPid)).toBe(true);
    });
  });

  describe("deploy", () => {
    it("a missing bundle file is invalid-argument before anything is looked up or written", async () => {
      const before = storeDigest(storeRoot);
      const absent = join(temp, "absent.gtbundle");
      expect(
        (await expectKind(deploy(ops, { bundle_path: absent, bundle_id: "fresh" }), "invalid-argument")).message,
      ).toContain(absent);
      await expectKind(
        deploy(ops, { environment_id: "ghost", customer_id: "c", bundle_path: absent }),
        "invalid-argument",
      );
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("a stale precondition on an existing deployment (staging is the first write) copies nothing and starts nothing", async () => {
      const { generation } = await envShow(ops, "local");
      const started = pids.size;
      const before = storeDigest(storeRoot);
      await expectKind(
        deploy(
          ops,
          { bundle_path: bundle, bundle_id: "hello" },
          { precondition: { expected_generation: generation - 1 } },
        ),
        "precondition-failed",
      );
      await expectKind(
        deploy(
          ops,
          { bundle_path: await buildFixture("hello", temp, "1.0.0", "brand-new"), new_deployment: true },
          { precondition: { expected_generation: generation - 1 } },
        ),
        "precondition-failed",
      );
      expect(pids.size).toBe(started);
      expect(storeDigest(storeRoot)).toBe(before);
    });

    it("a retry with the same key replays every step: no new revision, no new process", async () => {
      const first = await deploy(ops, { bundle_path: bundle, bundle_id: "hello" }, { idempotencyKey: "deploy-k1" });
      const started = pids.size;
      const revisions = (await revisionsList(ops, "local")).revisions.length;
      const again = await deploy(ops, { bundle_path: bundle, bundle_id: "hello" }, { idempotencyKey: "deploy-k1" });
      expect(again).toMatchObject({
        revision_id: first.revision_id,
        deployment_id: first.deployment_id,
        url: first.url,
        environment_url: first.environment_url,
      });
      expect(pids.size).toBe(started);
      expect((await revisionsList(ops, "local")).revisions).toHaveLength(revisions);
    });
  });
});
