import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { stringify } from "yaml";
import { buildBundle } from "@greentic/bundle";
import type { HandlerContext, RevisionRef } from "@greentic/env-packs";
import { runDeployerConformance } from "@greentic/env-packs/conformance";
import { adminRequest } from "@greentic/runtime";
import { bootTestbed, PROJECT_MOUNT, testbedUnavailable, type Testbed } from "../../../scripts/testbed/testbed.ts";
import { createHostExecutor, singleVmDeployerHandler } from "../src/index.js";
import { freePort } from "./helpers.js";

const unavailable = testbedUnavailable();
if (unavailable) console.warn(`single-vm env-pack e2e skipped: ${unavailable}`);
const repo = join(import.meta.dirname, "../../..");
const runtimeJs = join(repo, "packages/runtime/dist/bin.js");

describe.skipIf(unavailable !== undefined)(
  "greentic.deployer.single-vm through the handler, in a systemd testbed",
  { timeout: 300_000 },
  () => {
    let tb: Testbed;
    let temp: string;
    let bundle: string;
    let specPath: string;
    let port: number;
    let contexts = 0;
    const unit = "greentic-hello.service";

    /** A fresh environment context (own data dir) whose answers point at the testbed's spec. */
    const context = (): HandlerContext => {
      const data = join(temp, `data-${++contexts}`);
      return {
        envId: `vm${contexts}`,
        answers: { spec_path: specPath },
        async dataDir(area) {
          const dir = join(data, area);
          mkdirSync(dir, { recursive: true });
          return dir;
        },
      };
    };

    beforeAll(async () => {
      if (!existsSync(runtimeJs))
        throw new Error(`${runtimeJs} is missing: build @greentic/runtime first (pnpm -r build)`);
      temp = mkdtempSync(join(tmpdir(), "gt-envpack-e2e-"));
      bundle = join(temp, "hello.gtbundle");
      await buildBundle({
        sourceDir: join(repo, "fixtures/bundles/hello"),
        outFile: bundle,
        bundleId: "hello",
        version: "1.0.0",
      });
      port = await freePort();
      specPath = join(temp, "hello.yaml");
      // No spec.bundle.source: the handler mounts the staged revision.
      writeFileSync(
        specPath,
        stringify({
          apiVersion: "greentic.ai/v1alpha1",
          kind: "Deployment",
          metadata: { name: "hello" },
          spec: {
            runtime: {
              binary: `${PROJECT_MOUNT}/packages/runtime/dist/bin.js`,
              publicBind: "127.0.0.1:0",
              admin: { bind: `127.0.0.1:${port}` },
            },
            health: { startupTimeoutSeconds: 60 },
          },
        }),
      );
      tb = await bootTestbed({ name: `gtbenvpack${process.pid}` });
    }, 600_000);

    afterAll(async () => {
      await tb?.stop();
      if (temp) rmSync(temp, { recursive: true, force: true });
    });

    it("stages and warms the hello bundle: /ready answers over mTLS, the page is served; destroy leaves no unit", async () => {
      const handler = singleVmDeployerHandler({ executor: createHostExecutor({ nsenterPid: tb.pid }) });
      const d = handler.deployer!;
      const ctx = context();
      const r1: RevisionRef = {
        revision_id: "01J0000000000000000000HELLO",
        deployment_id: "dep-hello",
        bundle_id: "hello",
      };
      onTestFinished(async () => {
        await d.destroy(ctx); // idempotent: leaves nothing running when an assertion fails midway
      });
      expect(await handler.credentials!.validate(ctx)).toMatchObject({ result: "pass", missing_capabilities: [] });

      const staged = await d.stage(ctx, { revision: r1, bundlePath: bundle });
      expect(staged.location).toBe(`/var/lib/greentic/hello/revisions/${r1.revision_id}.gtbundle`);
      expect(tb.sh(`sha256sum ${staged.location}`).split(" ")[0]).toBe(staged.bundle_digest.slice("sha256:".length));

      const gate = await d.warm(ctx, { revision: r1, timeoutMs: 60_000 });
      expect(gate).toMatchObject({ ok: true, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/) });
      const page = await fetch((gate as { url: string }).url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Hello");
      const ready = await adminRequest({
        address: `127.0.0.1:${port}`,
        path: "/ready",
        certDir: `${tb.root}/etc/greentic/hello/deployer`,
        timeoutMs: 5_000,
      });
      expect(ready.status).toBe(200);
      expect(ready.json).toMatchObject({ ready: true });
      expect(tb.sh(`systemctl is-active ${unit}`).trim()).toBe("active");
      expect(tb.sh("findmnt -no OPTIONS --mountpoint /mnt/greentic/bundles/hello").split(",")).toContain("ro");
      const [status] = await d.status(ctx);
      expect(status).toMatchObject({
        revision_id: r1.revision_id,
        state: "running",
        pid: Number(tb.sh(`systemctl show -p MainPID --value ${unit}`).trim()),
      });

      expect(await d.destroy(ctx)).toEqual({ stopped: [r1.revision_id] });
      expect(tb.run("systemctl", ["cat", unit]).code).not.toBe(0);
      expect(tb.sh("systemctl list-units --all --no-legend 'greentic-*' 'mnt-greentic-*'").trim()).toBe("");
      expect(tb.run("findmnt", ["--mountpoint", "/mnt/greentic/bundles/hello"]).code).not.toBe(0);
      expect(tb.run("test", ["-e", staged.location!]).code).not.toBe(0);
      expect(await d.status(ctx)).toEqual([]);
    });

    it("a revision that never becomes ready fails the gate as data (readiness), and leaves the VM clean after destroy", async () => {
      const handler = singleVmDeployerHandler({ executor: createHostExecutor({ nsenterPid: tb.pid }) });
      const d = handler.deployer!;
      const ctx = context();
      onTestFinished(async () => {
        await d.destroy(ctx);
      });
      // The hello bundle's manifest over different content: the runtime refuses to serve it.
      const src = join(temp, "tampered");
      mkdirSync(src, { mode: 0o755 });
      execFileSync("unsquashfs", ["-f", "-q", "-d", src, bundle]);
      writeFileSync(join(src, "index.html"), "<h1>tampered</h1>\n");
      const broken = join(temp, "tampered.gtbundle");
      execFileSync("mksquashfs", [src, broken, "-noappend", "-quiet", "-all-root"]);
      const bad: RevisionRef = {
        revision_id: "01J00000000000000000000BAD",
        deployment_id: "dep-hello",
        bundle_id: "hello",
      };
      await d.stage(ctx, { revision: bad, bundlePath: broken });
      const gate = await d.warm(ctx, { revision: bad, timeoutMs: 5_000 });
      expect(gate).toMatchObject({
        ok: false,
        failure: {
          failed_checks: ["readiness"],
          message: expect.stringContaining("greentic-hello.service did not become ready"),
        },
      });
      expect(await d.runtimeConfig(ctx)).toEqual({ env_id: ctx.envId, revisions: [] });
      expect((await d.status(ctx)).map((s) => [s.revision_id, s.state])).toEqual([[bad.revision_id, "stopped"]]);
      await d.destroy(ctx);
      expect(tb.sh("systemctl list-units --all --no-legend 'greentic-*' 'mnt-greentic-*'").trim()).toBe("");
    });

    it("passes the conformance checks that fit one revision at a time", async () => {
      const handler = singleVmDeployerHandler({ executor: createHostExecutor({ nsenterPid: tb.pid }) });
      const result = await runDeployerConformance(handler, {
        ctxFactory: context,
        bundlePath: bundle,
        warmTimeoutMs: 60_000,
        only: ["happy-path", "idempotency", "invalid-split", "unknown-revision"],
      });
      expect(result.failures).toEqual([]);
      expect(result.checks).toEqual(["happy-path", "idempotency", "invalid-split", "unknown-revision"]);
      expect(tb.sh("systemctl list-units --all --no-legend 'greentic-*'").trim()).toBe("");
    });

    it("fails, by design, the two checks that need several revisions or deployments at once", async () => {
      const handler = singleVmDeployerHandler({ executor: createHostExecutor({ nsenterPid: tb.pid }) });
      const result = await runDeployerConformance(handler, {
        ctxFactory: context,
        bundlePath: bundle,
        warmTimeoutMs: 60_000,
        only: ["runtime-config-drift", "cross-deployment-interference"],
      });
      expect(result.failures.map((f) => [f.check, f.code])).toEqual([
        ["runtime-config-drift", "RuntimeConfigDrift"],
        ["cross-deployment-interference", "CrossDeploymentInterference"],
      ]);
      expect(result.failures[0]!.message).toMatch(/single-vm serves one revision at 100 % in v1/);
      expect(result.failures[1]!.message).toMatch(/one deployment per VM/);
      expect(tb.sh("systemctl list-units --all --no-legend 'greentic-*'").trim()).toBe("");
    });
  },
);
