import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isErrorKind, type DeploymentSpec } from "@greentic/deploy-spec";
import { adminRequest } from "@greentic/runtime";
import { bootTestbed, PROJECT_MOUNT, testbedUnavailable, type Testbed } from "../../../scripts/testbed/testbed.ts";
import {
  applyDeployment,
  createHostExecutor,
  deploymentStatus,
  destroyDeployment,
  loadPlan,
  planDeployment,
  preflight,
  rollbackDeployment,
  savePlan,
  type HostExecutor,
} from "../src/index.js";
import { freePort, makeBundle, specOf } from "./helpers.js";

const unavailable = testbedUnavailable();
if (unavailable) console.warn(`single-vm native e2e skipped: ${unavailable}`);
const runtimeJs = join(import.meta.dirname, "../../runtime/dist/bin.js");

describe.skipIf(unavailable !== undefined)("single-vm native mode in a systemd testbed", { timeout: 240_000 }, () => {
  let tb: Testbed;
  let exec: HostExecutor;
  let port: number;
  let doc: Record<string, any>;
  let spec: DeploymentSpec;
  const unit = "greentic-acme.service";
  const mountUnit = "mnt-greentic-bundles-acme.mount";
  const deployerDir = () => `${tb.root}/etc/greentic/acme/deployer`;
  const mainPid = () => Number(tb.sh(`systemctl show -p MainPID --value ${unit}`).trim());
  const ready = () =>
    adminRequest({ address: `127.0.0.1:${port}`, path: "/ready", certDir: deployerDir(), timeoutMs: 5_000 });

  beforeAll(async () => {
    if (!existsSync(runtimeJs))
      throw new Error(`${runtimeJs} is missing: build @greentic/runtime first (pnpm -r build)`);
    tb = await bootTestbed();
    exec = createHostExecutor({ nsenterPid: tb.pid });
    makeBundle(`${tb.root}/srv/bundles`, "acme-v1.gtbundle", "v1");
    makeBundle(`${tb.root}/srv/bundles`, "acme-v2.gtbundle", "v2");
    port = await freePort();
    doc = {
      apiVersion: "greentic.ai/v1alpha1",
      kind: "Deployment",
      metadata: { name: "acme" },
      spec: {
        bundle: { source: "file:///srv/bundles/acme-v1.gtbundle" },
        runtime: {
          binary: `${PROJECT_MOUNT}/packages/runtime/dist/bin.js`,
          publicBind: "127.0.0.1:0",
          admin: { bind: `127.0.0.1:${port}` },
        },
        health: { startupTimeoutSeconds: 60 },
      },
    };
    spec = specOf(doc);
  }, 600_000);

  afterAll(async () => {
    await tb?.stop();
  });

  it("preflight passes on the fresh host and names each failure with a fix", async () => {
    const ok = await preflight(spec, { executor: exec });
    expect(ok.checks.map((c) => [c.name, c.ok])).toEqual([
      ["architecture", true],
      ["systemd", true],
      ["squashfs", true],
      ["loop devices", true],
      ["squashfs-tools", true],
      ["node", true],
      ["admin port", true],
      ["service user", true],
    ]);
    expect(ok.checks.find((c) => c.name === "service user")!.detail).toBe("greentic will be created by apply");
    const server = createServer().listen(port, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      const bad = await preflight(
        specOf({ ...doc, spec: { ...doc.spec, runtime: { ...doc.spec.runtime, node: "/opt/none/node" } } }),
        { executor: exec },
      );
      expect(bad.ok).toBe(false);
      expect(bad.checks.filter((c) => !c.ok)).toEqual([
        {
          name: "node",
          ok: false,
          detail: "/opt/none/node not found",
          hint: "install Node.js 22 or newer at /opt/none/node (or set spec.runtime.node)",
        },
        {
          name: "admin port",
          ok: false,
          detail: `port ${port} is already in use`,
          hint: `free port ${port} (ss -ltnp 'sport = :${port}') or choose another port in spec.runtime.admin.bind`,
        },
      ]);
      expect(bad.summary).toMatch(/^preflight failed: node: \/opt\/none\/node not found \(fix: install Node\.js 22/);
    } finally {
      server.close();
    }
  });

  it("plans every resource on a fresh host (exit code 2)", async () => {
    const plan = await planDeployment(spec, { executor: exec });
    expect(plan.exitCode).toBe(2);
    const a = plan.actions.map((x) => `${x.action} ${x.resource} ${x.target}`);
    expect(a.slice(0, 2)).toEqual(["create group greentic", "create user greentic"]);
    expect(a).toContain("create certificates /etc/greentic/acme/admin/server.crt");
    expect(a).toContain(`create bundle /var/lib/greentic/acme/bundles/${plan.bundleDigest.slice(7)}.gtbundle`);
    expect(a).toContain(`create file /etc/systemd/system/${mountUnit}`);
    expect(a).toContain(`create file /etc/systemd/system/${unit}`);
    expect(a).toContain("create file /etc/greentic/acme/runtime.env");
    expect(a.slice(-3)).toEqual([
      `restart unit ${mountUnit}`,
      `restart unit ${unit}`,
      "create state /var/lib/greentic/acme/state/single-vm-state.json",
    ]);
    // Nothing was written by planning.
    expect(existsSync(`${tb.root}/etc/greentic/acme`)).toBe(false);
  });

  it("applies: read-only squashfs mount, service under its user, /ready over mTLS", async () => {
    const result = await applyDeployment(spec, { executor: exec });
    expect(result.changed).toBe(true);
    expect(result.ready).toEqual({ status: 200 });
    expect(result.mainPid).toBeGreaterThan(0);

    expect(tb.sh(`systemctl is-active ${mountUnit} ${unit}`).trim().split("\n")).toEqual(["active", "active"]);
    const mnt = tb.sh("findmnt -n -o FSTYPE,OPTIONS --mountpoint /mnt/greentic/bundles/acme").trim();
    expect(mnt).toMatch(/^squashfs\s+ro,nosuid,nodev/);
    expect(tb.run("touch", ["/mnt/greentic/bundles/acme/x"]).code).not.toBe(0);
    const uid = tb.sh("id -u greentic").trim();
    expect(tb.sh(`cat /proc/${result.mainPid}/status`)).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, "m"));
    expect(tb.sh(`systemctl show -p User,NoNewPrivileges,ProtectSystem ${unit}`).trim().split("\n").sort()).toEqual([
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "User=greentic",
    ]);

    // The units as installed pass systemd's own verifier inside the host that runs them.
    const verify = tb.run("systemd-analyze", [
      "verify",
      `/etc/systemd/system/${unit}`,
      `/etc/systemd/system/${mountUnit}`,
    ]);
    expect(verify.stderr).toBe("");
    expect(verify.code).toBe(0);

    const r = await ready();
    expect(r.status).toBe(200);
    // The handshake fails without a client certificate.
    const ca = readFileSync(`${deployerDir()}/ca.crt`);
    const anonymous = await new Promise<string>((resolve) => {
      const req = request({ host: "127.0.0.1", port, path: "/ready", ca, agent: false, timeout: 5_000 }, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on("error", (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.end();
    });
    expect(anonymous).toMatch(/^error /);
    // Keys: the server key readable by the service group only, the CA key root-only.
    expect(tb.sh("stat -c '%a %U:%G' /etc/greentic/acme/admin/server.key /etc/greentic/acme/deployer/ca.key")).toBe(
      "640 root:greentic\n600 root:root\n",
    );
    const state = JSON.parse(readFileSync(`${tb.root}/var/lib/greentic/acme/state/single-vm-state.json`, "utf8"));
    expect(state).toMatchObject({
      schema: "greentic.single-vm-state.v1",
      deployment: "acme",
      mode: "native",
      bundleDigest: result.bundleDigest,
      lastResult: { action: "apply", ok: true },
    });
  });

  it("converges: a second apply does nothing and restarts nothing", async () => {
    const before = mainPid();
    const plan = await planDeployment(spec, { executor: exec });
    expect(plan.actions).toEqual([]);
    expect(plan.exitCode).toBe(0);
    const result = await applyDeployment(spec, { executor: exec });
    expect(result.changed).toBe(false);
    expect(result.commands).toEqual([]);
    expect(result.mainPid).toBe(before);
    expect(mainPid()).toBe(before);
    const status = await deploymentStatus(spec, { executor: exec });
    expect(status).toMatchObject({
      status: "applied",
      drift: [],
      readiness: { status: 200 },
      mainPid: before,
      mount: { readOnly: true },
    });
    expect(status.mountedBundleDigest).toBe(status.bundleDigest);
  });

  it("a saved plan goes stale when the host changes, and apply repairs drift", async () => {
    const plan = await planDeployment(spec, { executor: exec });
    const saved = join(tb.root, "root/plan.json");
    writeFileSync(saved, savePlan(plan));
    writeFileSync(`${tb.root}/etc/greentic/acme/runtime.env`, "GREENTIC_STATE_DIR=/tmp\n");
    const status = await deploymentStatus(spec, { executor: exec });
    expect(status.drift).toEqual([{ path: "/etc/greentic/acme/runtime.env", problem: "changed" }]);
    expect(status.status).toBe("degraded");
    const err = await applyDeployment(await loadPlan(saved), { executor: exec }).catch((e: unknown) => e);
    expect(isErrorKind(err, "precondition-failed")).toBe(true);
    expect((err as Error).message).toMatch(
      /^plan is stale: the host changed since the plan was made \(now needs update \/etc\/greentic\/acme\/runtime\.env/,
    );
    const repaired = await planDeployment(spec, { executor: exec });
    expect(repaired.actions.map((a) => `${a.action} ${a.target}`)).toEqual([
      "update /etc/greentic/acme/runtime.env",
      `restart ${unit}`,
      "update /var/lib/greentic/acme/state/single-vm-state.json",
    ]);
    const fresh = join(tb.root, "root/plan2.json");
    writeFileSync(fresh, savePlan(repaired));
    const result = await applyDeployment(await loadPlan(fresh), { executor: exec });
    expect(result.ready).toEqual({ status: 200 });
    expect((await planDeployment(spec, { executor: exec })).actions).toEqual([]);
  });

  it("a spec change is planned as an update and converges", async () => {
    const before = mainPid();
    doc.spec.health.startupTimeoutSeconds = 90;
    doc.spec.storage = { logDir: "/var/log/greentic/acme-logs" };
    spec = specOf(doc);
    const plan = await planDeployment(spec, { executor: exec });
    expect(plan.actions.map((a) => `${a.action} ${a.resource} ${a.target}`)).toEqual([
      "create dir /var/log/greentic/acme-logs",
      "update file /etc/greentic/acme/runtime.env",
      `update file /etc/systemd/system/${unit}`,
      `restart unit ${unit}`,
      "update state /var/lib/greentic/acme/state/single-vm-state.json",
    ]);
    const result = await applyDeployment(spec, { executor: exec });
    expect(result.ready).toEqual({ status: 200 });
    expect(result.mainPid).not.toBe(before);
    expect(tb.sh(`systemctl show -p TimeoutStartUSec,ReadWritePaths ${unit}`)).toMatch(/TimeoutStartUSec=1min 30s/);
    expect(tb.sh(`grep -c acme-logs /etc/systemd/system/${unit}`).trim()).toBe("1");
    expect((await planDeployment(spec, { executor: exec })).actions).toEqual([]);
  });

  it("systemd restarts the runtime after SIGKILL", async () => {
    const before = mainPid();
    expect(before).toBeGreaterThan(0);
    tb.sh(`kill -9 ${before}`);
    let after = 0;
    for (let i = 0; i < 200 && !(after > 0 && after !== before); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = mainPid();
    }
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    for (let i = 0; i < 100; i++) {
      const r = await ready().catch(() => null);
      if (r?.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect((await ready()).status).toBe(200);
  });

  it("a new bundle is recreated under the same unit; the next apply keeps the previous one, and rollback returns to it", async () => {
    const v1 = (await deploymentStatus(spec, { executor: exec })).bundleDigest;
    doc.spec.bundle.source = "/srv/bundles/acme-v2.gtbundle";
    spec = specOf(doc);
    const plan = await planDeployment(spec, { executor: exec });
    expect(plan.actions.map((a) => `${a.action} ${a.resource}`)).toEqual([
      "create bundle",
      "update file",
      "restart unit",
      "restart unit",
      "update state",
    ]);
    const v2 = await applyDeployment(spec, { executor: exec });
    expect(v2.bundleDigest).not.toBe(v1);
    expect(tb.sh("cat /mnt/greentic/bundles/acme/index.html")).toBe("<h1>v2</h1>\n");
    // The apply after the change plans nothing and keeps v1's copy, which rollback needs.
    const pid = mainPid();
    const again = await applyDeployment(spec, { executor: exec });
    expect(again).toMatchObject({ changed: false, actions: [] });
    expect(mainPid()).toBe(pid);
    expect(tb.sh("ls /var/lib/greentic/acme/bundles").trim().split("\n").sort()).toEqual(
      [`${v1!.slice(7)}.gtbundle`, `${v2.bundleDigest.slice(7)}.gtbundle`].sort(),
    );
    const back = await rollbackDeployment(spec, { executor: exec });
    expect(back.bundleDigest).toBe(v1);
    expect(back.ready).toEqual({ status: 200 });
    expect(tb.sh("cat /mnt/greentic/bundles/acme/index.html")).toBe("<h1>v1</h1>\n");
    const state = JSON.parse(readFileSync(`${tb.root}/var/lib/greentic/acme/state/single-vm-state.json`, "utf8"));
    expect(state).toMatchObject({
      bundleDigest: v1,
      previousBundleDigest: v2.bundleDigest,
      lastResult: { action: "rollback", ok: true },
    });
    expect(tb.sh("ls /var/lib/greentic/acme/bundles").trim().split("\n").sort()).toEqual(
      [`${v1!.slice(7)}.gtbundle`, `${v2.bundleDigest.slice(7)}.gtbundle`].sort(),
    );
  });

  it("destroy removes units, mount and generated files, keeps data; a second destroy is a no-op", async () => {
    writeFileSync(`${tb.root}/var/lib/greentic/acme/state/data.txt`, "keep me\n");
    const result = await destroyDeployment(spec, { executor: exec });
    expect(result.changed).toBe(true);
    expect(result.removed).toEqual(
      expect.arrayContaining([
        `/etc/systemd/system/${unit}`,
        `/etc/systemd/system/${mountUnit}`,
        "/etc/greentic/acme/runtime.env",
        "/var/lib/greentic/acme/state/single-vm-state.json",
        "/var/lib/greentic/acme/bundles",
        "/var/lib/greentic/acme/runtime",
      ]),
    );
    expect(tb.sh(`systemctl show -p LoadState --value ${unit} ${mountUnit}`).split("\n").filter(Boolean)).toEqual([
      "not-found",
      "not-found",
    ]);
    expect(tb.run("findmnt", ["--mountpoint", "/mnt/greentic/bundles/acme"]).code).not.toBe(0);
    expect(existsSync(`${tb.root}/etc/systemd/system/${unit}`)).toBe(false);
    expect(readFileSync(`${tb.root}/var/lib/greentic/acme/state/data.txt`, "utf8")).toBe("keep me\n");
    expect(existsSync(`${tb.root}/var/log/greentic/acme-logs`)).toBe(true);
    const again = await destroyDeployment(spec, { executor: exec });
    expect(again.changed).toBe(false);
    expect(again.removed).toEqual([]);
    expect((await deploymentStatus(spec, { executor: exec })).status).toBe("not-installed");
  });

  it("a runtime that never becomes ready fails apply with the journal tail and records the failure", async () => {
    writeFileSync(`${tb.root}/srv/broken.js`, 'console.error("broken runtime: cannot start"); process.exit(3);\n');
    const broken = specOf({
      ...doc,
      metadata: { name: "broken" },
      spec: {
        ...doc.spec,
        storage: undefined,
        runtime: { ...doc.spec.runtime, binary: "/srv/broken.js" },
        health: { startupTimeoutSeconds: 4 },
      },
    });
    const err = await applyDeployment(broken, { executor: exec }).catch((e: unknown) => e);
    expect(isErrorKind(err, "io")).toBe(true);
    expect((err as Error).message).toMatch(/^greentic-broken\.service did not become ready within 4 s/);
    expect((err as { details: { journal: string[] } }).details.journal.join("\n")).toMatch(
      /broken runtime: cannot start/,
    );
    const state = JSON.parse(readFileSync(`${tb.root}/var/lib/greentic/broken/state/single-vm-state.json`, "utf8"));
    expect(state.lastResult).toMatchObject({ action: "apply", ok: false });
    await destroyDeployment(broken, { executor: exec, purge: true });
    expect(existsSync(`${tb.root}/var/lib/greentic/broken`)).toBe(false);
  });
});
