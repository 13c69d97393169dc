import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeploymentSpec } from "@greentic/deploy-spec";
import { adminRequest } from "@greentic/runtime";
import { bootTestbed, testbedUnavailable, type Testbed } from "../../../scripts/testbed/testbed.ts";
import {
  applyDeployment,
  createHostExecutor,
  deploymentStatus,
  destroyDeployment,
  liveSplit,
  planDeployment,
  preflight,
  readCanaryRecord,
  rollbackDeployment,
  setCanarySplit,
  type HostExecutor,
} from "../src/index.js";
import { countVersions } from "./canary-scenario.js";
import { freePort, makeBundle, specOf } from "./helpers.js";

const unavailable = testbedUnavailable();
if (unavailable) console.warn(`single-vm container e2e skipped: ${unavailable}`);
const runtimeJs = join(import.meta.dirname, "../../runtime/dist/bin.js");
const IMAGE = "localhost/greentic-runtime:e2e";

/** A rootfs tarball with node, the shared libraries `ldd` lists for it, and the runtime. */
function buildRootfsTar(out: string): void {
  const rootfs = mkdtempSync(join(tmpdir(), "gt-rootfs-"));
  try {
    const node = realpathSync(process.execPath);
    const libs = execFileSync("ldd", [node], { encoding: "utf8" })
      .split("\n")
      .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined);
    for (const file of [...libs, node]) {
      const target = file === node ? join(rootfs, "usr/bin/node") : join(rootfs, file);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(realpathSync(file), target);
    }
    mkdirSync(join(rootfs, "app"), { recursive: true });
    mkdirSync(join(rootfs, "tmp"), { recursive: true });
    copyFileSync(runtimeJs, join(rootfs, "app/runtime.js"));
    execFileSync("chmod", ["-R", "a+rX", rootfs]);
    execFileSync("tar", ["-C", rootfs, "-cf", out, "."]);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

// Debian 12's podman 4.3 has no Quadlet (a .service wrapping `podman run` is generated); Debian 13's
// podman 5 has it (a Quadlet .container is generated). Both run the same image with runc.
for (const { suite, quadlet } of [
  { suite: "bookworm", quadlet: false },
  { suite: "trixie", quadlet: true },
])
  describe.skipIf(unavailable !== undefined)(
    `single-vm container mode (podman + runc, ${suite}, ${quadlet ? "Quadlet" : "podman run unit"})`,
    { timeout: 240_000 },
    () => {
      let tb: Testbed;
      let exec: HostExecutor;
      let port: number;
      let spec: DeploymentSpec;
      const unit = "greentic-web.service";
      const mainPid = () => Number(tb.sh(`systemctl show -p MainPID --value ${unit}`).trim());

      beforeAll(async () => {
        if (!existsSync(runtimeJs))
          throw new Error(`${runtimeJs} is missing: build @greentic/runtime first (pnpm -r build)`);
        tb = await bootTestbed({ suite });
        exec = createHostExecutor({ nsenterPid: tb.pid });
        buildRootfsTar(`${tb.root}/root/rootfs.tar`);
        // The image is built inside the testbed, with its podman: nothing can be pulled here.
        tb.sh(`podman import --change 'CMD ["/usr/bin/node","/app/runtime.js"]' /root/rootfs.tar ${IMAGE} >/dev/null`);
        makeBundle(`${tb.root}/srv/bundles`, "web.gtbundle", "container");
        port = await freePort();
        spec = specOf({
          apiVersion: "greentic.ai/v1alpha1",
          kind: "Deployment",
          metadata: { name: "web" },
          spec: {
            bundle: { source: "/srv/bundles/web.gtbundle" },
            runtime: {
              image: IMAGE,
              engine: "podman",
              publicBind: "127.0.0.1:0",
              admin: { bind: `127.0.0.1:${port}` },
            },
            health: { startupTimeoutSeconds: 40 },
          },
        });
      }, 600_000);

      afterAll(async () => {
        await tb?.stop();
      });

      it(`preflight passes and the plan renders ${quadlet ? "a Quadlet .container" : "a podman-wrapping .service"}`, async () => {
        const checks = await preflight(spec, { executor: exec });
        expect(checks.ok).toBe(true);
        expect(checks.checks.find((c) => c.name === "podman")!.detail).toMatch(/^podman \d+\.\d+\.\d+$/);
        expect(checks.checks.find((c) => c.name === "quadlet")!.detail).toMatch(
          quadlet ? /^podman Quadlet available/ : /^no Quadlet \(podman < 4\.4\)/,
        );
        const plan = await planDeployment(spec, { executor: exec, ociRuntime: "runc" });
        expect(plan.mode).toBe("container");
        const targets = plan.actions.map((a) => a.target);
        expect(targets.includes("/etc/containers/systemd/greentic-web.container")).toBe(quadlet);
        expect(targets.includes(`/etc/systemd/system/${unit}`)).toBe(!quadlet);
      });

      it("applies: one read-only container under systemd answers /ready over mTLS", async () => {
        const result = await applyDeployment(spec, { executor: exec, ociRuntime: "runc" });
        expect(result.ready).toEqual({ status: 200 });
        const uid = tb.sh("id -u greentic").trim();
        const gid = tb.sh("id -g greentic").trim();
        if (quadlet) {
          const text = readFileSync(`${tb.root}/etc/containers/systemd/greentic-web.container`, "utf8");
          expect(text).toContain(
            `[Container]\nContainerName=greentic-web\nImage=${IMAGE}\nReadOnly=true\nNetwork=host\nUser=${uid}\nGroup=${gid}\n`,
          );
          // The generator made the service from it.
          expect(tb.sh(`systemctl show -p SourcePath --value ${unit}`).trim()).toBe(
            "/etc/containers/systemd/greentic-web.container",
          );
          const dry = tb.run("/usr/lib/systemd/system-generators/podman-system-generator", ["--dryrun"]);
          expect(dry.stdout).toMatch(/--read-only/);
          expect(dry.stdout).toMatch(/--network host/);
        } else
          expect(readFileSync(`${tb.root}/etc/systemd/system/${unit}`, "utf8")).toContain(
            `ExecStart=/usr/bin/podman --runtime runc run --rm --name greentic-web --replace --read-only --network host --user ${uid}:${gid} --security-opt no-new-privileges --cap-drop all --env-file /etc/greentic/web/runtime.env --volume /mnt/greentic/bundles/web:/mnt/greentic/bundles/web:ro`,
          );
        expect(tb.sh("podman ps --format '{{.Names}} {{.Image}}'").trim()).toBe(`greentic-web ${IMAGE}`);
        expect(tb.sh("podman inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}' greentic-web").trim()).toBe(
          `true ${uid}:${gid}`,
        );
        // Read-only root and read-only bundle, seen from inside the container.
        const write = tb.run("podman", [
          "exec",
          "greentic-web",
          "/usr/bin/node",
          "-e",
          "for (const f of ['/x', '/mnt/greentic/bundles/web/x']) { try { require('fs').writeFileSync(f, ''); console.log('wrote', f) } catch (e) { console.log(e.code) } }",
        ]);
        expect(write.stdout).toBe("EROFS\nEROFS\n");
        const r = await adminRequest({
          address: `127.0.0.1:${port}`,
          path: "/ready",
          certDir: `${tb.root}/etc/greentic/web/deployer`,
        });
        expect(r.status).toBe(200);
        // The admin port is bound on the configured loopback address only.
        expect(tb.sh(`cat /proc/net/tcp`)).toMatch(
          new RegExp(`0100007F:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A`),
        );
      });

      it("converges without restarting the container", async () => {
        const before = mainPid();
        const again = await applyDeployment(spec, { executor: exec, ociRuntime: "runc" });
        expect(again.changed).toBe(false);
        expect(mainPid()).toBe(before);
        expect((await deploymentStatus(spec, { executor: exec })).status).toBe("applied");
      });

      it("destroy stops and removes the container, units and mount", async () => {
        const result = await destroyDeployment(spec, { executor: exec });
        expect(result.changed).toBe(true);
        expect(tb.sh("podman ps -a --format '{{.Names}}'").trim()).toBe("");
        expect(tb.run("findmnt", ["--mountpoint", "/mnt/greentic/bundles/web"]).code).not.toBe(0);
        expect(existsSync(`${tb.root}/etc/systemd/system/${unit}`)).toBe(false);
        expect(existsSync(`${tb.root}/etc/containers/systemd/greentic-web.container`)).toBe(false);
        expect(tb.sh(`systemctl show -p LoadState --value ${unit}`).trim()).toBe("not-found");
        expect((await destroyDeployment(spec, { executor: exec })).changed).toBe(false);
      });

      it("canary: two revisions as Podman containers behind HAProxy; 1 % and 90/10 splits hold, rollback restores", {
        timeout: 300_000,
      }, async () => {
        makeBundle(`${tb.root}/srv/bundles`, "shop-1.gtbundle", "shop v1");
        makeBundle(`${tb.root}/srv/bundles`, "shop-2.gtbundle", "shop v2");
        const publicPort = await freePort();
        // Below the kernel's ephemeral range (32768 and up), where other processes' client sockets sit.
        const base = 20_000 + Math.floor(Math.random() * 12_000);
        const canary = (bundle: string) =>
          specOf({
            apiVersion: "greentic.ai/v1alpha1",
            kind: "Deployment",
            metadata: { name: "shop" },
            spec: {
              bundle: { source: `/srv/bundles/${bundle}` },
              runtime: { image: IMAGE, engine: "podman", publicBind: `127.0.0.1:${publicPort}` },
              health: { startupTimeoutSeconds: 40 },
              rollout: { strategy: "canary", drainSeconds: 2, revisionPorts: `${base}-${base + 40}` },
            },
          });
        const url = `http://127.0.0.1:${publicPort}/`;
        const count = (n: number) => countVersions(url, n, 16, { v1: "<h1>shop v1</h1>", v2: "<h1>shop v2</h1>" });
        const containers = () => tb.sh("podman ps --format '{{.Names}}'").trim().split("\n").sort();
        const v1 = canary("shop-1.gtbundle");
        await applyDeployment(v1, { executor: exec, ociRuntime: "runc" });
        const a = (await liveSplit(exec, v1))[0]!.revision_id;
        expect(await liveSplit(exec, v1)).toEqual([{ revision_id: a, weight_bps: 10_000 }]);
        expect(containers()).toEqual([`greentic-shop-${a}`]);
        expect(await count(200)).toEqual({ v1: 200, v2: 0, failed: 0 });

        // The second bundle warms beside the first as its own container, at 0 % until the split moves.
        const v2 = canary("shop-2.gtbundle");
        await applyDeployment(v2, { executor: exec, ociRuntime: "runc" });
        const b = Object.keys((await readCanaryRecord(exec, v2)).revisions).find((id) => id !== a)!;
        expect(containers()).toEqual([`greentic-shop-${a}`, `greentic-shop-${b}`].sort());
        expect(await liveSplit(exec, v2)).toEqual([{ revision_id: a, weight_bps: 10_000 }]);
        const inspect = tb.sh(`podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' greentic-shop-${b}`).trim();
        expect(inspect).toBe("true");

        await setCanarySplit(
          v2,
          [
            { revision_id: a, weight_bps: 9_900 },
            { revision_id: b, weight_bps: 100 },
          ],
          { executor: exec },
        );
        expect(await liveSplit(exec, v2)).toEqual([
          { revision_id: a, weight_bps: 9_900 },
          { revision_id: b, weight_bps: 100 },
        ]);
        const one = await count(10_000);
        expect(one.failed).toBe(0);
        expect(Math.abs((one.v2 / 10_000) * 100 - 1), JSON.stringify(one)).toBeLessThanOrEqual(0.3);

        await setCanarySplit(
          v2,
          [
            { revision_id: a, weight_bps: 9_000 },
            { revision_id: b, weight_bps: 1_000 },
          ],
          { executor: exec },
        );
        const ninety = await count(10_000);
        expect(ninety.failed).toBe(0);
        expect(Math.abs((ninety.v2 / 10_000) * 100 - 10), JSON.stringify(ninety)).toBeLessThanOrEqual(1);

        // Rollback restores the split before the last change.
        const back = await rollbackDeployment(v2, { executor: exec });
        const restored = `${a}=9900bps ${b}=100bps`;
        expect(back.summary).toBe(`shop: split back to ${restored} (live: ${restored}).`);
        expect(await liveSplit(exec, v2)).toEqual([
          { revision_id: a, weight_bps: 9_900 },
          { revision_id: b, weight_bps: 100 },
        ]);
        expect((await count(500)).failed).toBe(0);

        await destroyDeployment(v2, { executor: exec });
        expect(tb.sh("podman ps -a --format '{{.Names}}'").trim()).toBe("");
        expect(tb.run("systemctl", ["is-active", "greentic-shop-proxy.service"]).stdout.trim()).toBe("inactive");
      });
    },
  );
