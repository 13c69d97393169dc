// `op single-vm ... --host`: an operator process on this machine drives a booted testbed over
// the system OpenSSH client, against the testbed's own sshd on a loopback port, with a key made
// for the test and the VM's host key pinned. One boot for the whole suite.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootTestbed, PROJECT_MOUNT, testbedUnavailable, type Testbed } from "../../../scripts/testbed/testbed.ts";
import { freePort, makeBundle } from "./helpers.js";

const repo = join(import.meta.dirname, "../../..");
const unavailable = testbedUnavailable();
if (unavailable) console.warn(`skipping the SSH e2e suite: ${unavailable}`);

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(unavailable !== undefined)("op single-vm over SSH", { timeout: 240_000 }, () => {
  let tb: Testbed;
  let sshPort: number;
  let publicPort: number;
  const work = mkdtempSync(join(tmpdir(), "greentic-ssh-e2e-"));
  const home = join(work, "home");
  const key = join(work, "id_ed25519");
  const knownHosts = join(work, "known_hosts");
  const specFile = join(work, "deployment.json");
  const host = () => `root@127.0.0.1:${sshPort}`;
  const ssh = () => ["--host", host(), "--known-hosts", knownHosts, "--identity", key];

  /** The operator's op on this machine (a HOME of its own: no ssh configuration, no agent). */
  const op = (...args: string[]) => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [join(repo, "apps/op/bin/run.js"), ...args], {
      env: { PATH: process.env.PATH, HOME: home, GREENTIC_HOME: join(home, "greentic"), NO_COLOR: "1" },
      encoding: "utf8",
      timeout: 180_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
  };
  /** op inside the VM (the "local" run to compare with). */
  const vmOp = (...args: string[]) => {
    const started = Date.now();
    const r = tb.run("/usr/local/bin/op", args, { timeoutMs: 180_000 });
    return { ...r, ms: Date.now() - started };
  };
  const uploads = () => tb.run("sh", ["-c", "find /var/lib/greentic/uploads -type f 2>/dev/null | sort"]).stdout;

  beforeAll(async () => {
    tb = await bootTestbed({ name: `gtbssh${process.pid}` });
    sshPort = await freePort();
    publicPort = await freePort();
    // The distribution's ssh units are masked in the testbed: start sshd by hand, key logins
    // only, on a loopback port (the testbed shares this machine's network).
    // The documented sshd settings (docs/single-vm.md, "Least privilege"), as a drop-in file.
    writeFileSync(
      join(tb.root, "etc/ssh/sshd_config.d/greentic.conf"),
      "PasswordAuthentication no\nPermitRootLogin prohibit-password\n",
    );
    tb.sh(
      `ssh-keygen -A && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh && /usr/sbin/sshd -p ${sshPort} -o ListenAddress=127.0.0.1`,
    );
    expect(tb.sh(`sshd -T -p ${sshPort} | grep -E '^(permitrootlogin|passwordauthentication) '`)).toBe(
      "permitrootlogin without-password\npasswordauthentication no\n",
    );
    mkdirSync(home, { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f", key]);
    // The documented least-privilege key line: no forwarding, no pty, no agent (docs/single-vm.md).
    writeFileSync(join(tb.root, "root/.ssh/authorized_keys"), `restrict ${readFileSync(`${key}.pub`, "utf8")}`, {
      mode: 0o600,
    });
    // Pinned as docs/single-vm.md says: ssh-keyscan, its fingerprint compared with the VM's own.
    writeFileSync(
      knownHosts,
      execFileSync("ssh-keyscan", ["-p", String(sshPort), "-t", "ed25519", "127.0.0.1"], { encoding: "utf8" }),
    );
    const scanned = execFileSync("ssh-keygen", ["-lf", knownHosts], { encoding: "utf8" }).split(" ")[1];
    const onVm = tb.sh("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").split(" ")[1];
    expect(scanned).toBe(onVm);
    // The op executable cloud-init installs on a VM; here the checkout's op under the host's node.
    writeFileSync(
      join(tb.root, "usr/local/bin/op"),
      `#!/bin/sh\nexec /usr/bin/node ${PROJECT_MOUNT}/apps/op/bin/run.js "$@"\n`,
      { mode: 0o755 },
    );
    const bundle = makeBundle(work, "acme-v1.gtbundle", "v1");
    writeFileSync(
      specFile,
      JSON.stringify({
        apiVersion: "greentic.ai/v1alpha1",
        kind: "Deployment",
        metadata: { name: "acme" },
        spec: {
          bundle: { source: bundle },
          runtime: {
            binary: `${PROJECT_MOUNT}/packages/runtime/dist/bin.js`,
            publicBind: `127.0.0.1:${publicPort}`,
            admin: { bind: `127.0.0.1:${await freePort()}` },
          },
          health: { startupTimeoutSeconds: 60 },
        },
      }),
    );
  }, 600_000);

  afterAll(async () => {
    await tb?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("refuses a VM whose host key is not the pinned one (exit 5) and one it has no key for, changing nothing", () => {
    const other = join(work, "other-key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const wrong = join(work, "known_hosts.wrong");
    const otherKey = readFileSync(`${other}.pub`, "utf8").split(" ");
    writeFileSync(wrong, `[127.0.0.1]:${sshPort} ${otherKey[0]} ${otherKey[1]}\n`);
    const changed = op(
      "single-vm",
      "apply",
      "--spec",
      specFile,
      "--host",
      host(),
      "--known-hosts",
      wrong,
      "--identity",
      key,
    );
    expect(changed.code).toBe(5);
    expect(changed.stderr).toContain(
      `root@127.0.0.1:${sshPort}: the host key differs from the one pinned in ${wrong}; refusing to connect`,
    );
    expect(changed.stderr).toContain("if the VM was reinstalled, check its new key out of band");
    const empty = join(work, "known_hosts.empty");
    writeFileSync(empty, "");
    const unknown = op(
      "single-vm",
      "status",
      "--spec",
      specFile,
      "--host",
      host(),
      "--known-hosts",
      empty,
      "--identity",
      key,
      "--json",
    );
    expect(unknown.code).toBe(5);
    expect(JSON.parse(unknown.stderr).error).toMatchObject({
      kind: "unauthorized",
      message: `root@127.0.0.1:${sshPort}: the host key is not in ${empty}; refusing to connect`,
      details: { code: "ssh-host-key-unknown" },
    });
    // Nothing reached the VM, and nothing was added to either file.
    expect(uploads()).toBe("");
    expect(readFileSync(empty, "utf8")).toBe("");
  });

  it("names an unreachable VM with a hint (exit 1), changing nothing", async () => {
    const closed = await freePort();
    const r = op(
      "single-vm",
      "apply",
      "--spec",
      specFile,
      "--host",
      `root@127.0.0.1:${closed}`,
      "--known-hosts",
      knownHosts,
      "--identity",
      key,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`root@127\\.0\\.0\\.1:${closed} is unreachable over SSH: .*Connection refused`),
    );
    expect(r.stderr).toContain("check that the VM is up, that sshd listens on that port");
    expect(uploads()).toBe("");
  });

  it("refuses bad input before connecting (exit 2)", () => {
    const target = op("single-vm", "plan", "--spec", specFile, "--host", "root@bad host", "--known-hosts", knownHosts);
    expect(target.code).toBe(2);
    expect(target.stderr).toContain('--host "root@bad host": "bad host" is not a host name or address');
    const root = op("single-vm", "apply", "--spec", specFile, ...ssh(), "--root", join(work, "stage"));
    expect(root.code).toBe(2);
    expect(root.stderr).toContain("--root cannot be combined with --host");
    const orphan = op("single-vm", "status", "--spec", specFile, "--known-hosts", knownHosts);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toContain("--known-hosts needs --host USER@HOST[:PORT]");
  });

  let remotePlan = "";
  it("plans over SSH exactly as op plans on the VM", () => {
    const r = op("single-vm", "plan", "--spec", specFile, ...ssh(), "--json");
    expect(r.stderr).not.toContain("Error");
    expect(r.code).toBe(0);
    const digest = execFileSync("sha256sum", [join(work, "acme-v1.gtbundle")], { encoding: "utf8" }).split(" ")[0];
    expect(uploads()).toBe(
      `/var/lib/greentic/uploads/bundles/sha256-${digest}.gtbundle\n/var/lib/greentic/uploads/specs/acme.json\n`,
    );
    const local = vmOp("single-vm", "plan", "--spec", "/var/lib/greentic/uploads/specs/acme.json", "--json");
    expect(local.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(local.stdout));
    remotePlan = r.stdout;
    expect(JSON.parse(remotePlan).result.summary).toMatch(/to create/);
  });

  it("applies over SSH: the VM serves the bundle; a second apply changes nothing and uploads nothing", async () => {
    const first = op("single-vm", "apply", "--spec", specFile, ...ssh(), "--json");
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).result.ready.status).toBe(200);
    expect(await get(publicPort)).toEqual({ status: 200, body: "<h1>v1</h1>\n" });
    // One master connection for this VM, under GREENTIC_HOME.
    expect(readdirSync(join(home, "greentic/ssh"))).toHaveLength(1);
    const again = op("single-vm", "apply", "--spec", specFile, ...ssh());
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("uploaded the bundle");
    expect(again.stdout).toMatch(/nothing to do|no changes|up to date/i);
    // The same apply on the VM, for the figures in the report (SSH adds the upload check and a round trip).
    const local = vmOp("single-vm", "apply", "--spec", "/var/lib/greentic/uploads/specs/acme.json");
    expect(local.code).toBe(0);
    console.log(`no-op apply: over SSH ${again.ms} ms, on the VM ${local.ms} ms`);
  });

  it("reports status over SSH as op does on the VM", () => {
    const r = op("single-vm", "status", "--spec", specFile, ...ssh(), "--json");
    expect(r.code).toBe(0);
    const local = vmOp("single-vm", "status", "--spec", "/var/lib/greentic/uploads/specs/acme.json", "--json");
    const over = JSON.parse(r.stdout).result;
    // For the report: a status with the master connection up, then with a fresh handshake.
    const warm = op("single-vm", "status", "--spec", specFile, ...ssh());
    execFileSync(
      "ssh",
      ["-o", `ControlPath=${join(home, "greentic/ssh/%C")}`, "-O", "exit", "-p", String(sshPort), "root@127.0.0.1"],
      {
        stdio: "ignore",
      },
    );
    const cold = op("single-vm", "status", "--spec", specFile, ...ssh());
    expect([warm.code, cold.code]).toEqual([0, 0]);
    console.log(
      `status over SSH: reused connection ${warm.ms} ms, new connection ${cold.ms} ms, on the VM ${local.ms} ms`,
    );
    expect(over.status).toBe("applied");
    expect(over).toEqual(JSON.parse(local.stdout).result);
  });

  it("waits for another operator's apply, then refuses with exit 3", () => {
    // Another operator's apply, as the VM sees it: the deployment's lock held (in its own process group).
    const holder = tb
      .sh("setsid flock /run/lock/greentic-single-vm-acme.lock sleep 60 >/dev/null 2>&1 < /dev/null & echo $!")
      .trim();
    for (let i = 0; i < 50 && tb.run("flock", ["-n", "/run/lock/greentic-single-vm-acme.lock", "true"]).code === 0; i++)
      execFileSync("sleep", ["0.1"]);
    const r = op("single-vm", "apply", "--spec", specFile, ...ssh(), "--lock-timeout", "1");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      `root@127.0.0.1:${sshPort}: another operator is changing deployment acme on this VM (its lock was held for 1 s)`,
    );
    tb.run("kill", ["--", `-${holder}`]);
  });

  it("destroys over SSH: nothing serves and status says not-installed", async () => {
    for (let i = 0; i < 50 && tb.run("flock", ["-n", "/run/lock/greentic-single-vm-acme.lock", "true"]).code !== 0; i++)
      execFileSync("sleep", ["0.2"]);
    const r = op("single-vm", "destroy", "--spec", specFile, ...ssh(), "--confirm");
    expect(r.code, r.stderr).toBe(0);
    await expect(get(publicPort)).rejects.toThrow(/ECONNREFUSED/);
    const s = op("single-vm", "status", "--spec", specFile, ...ssh(), "--json");
    expect(JSON.parse(s.stdout).result.status).toBe("not-installed");
    expect(existsSync(join(tb.root, "etc/systemd/system/greentic-acme.service"))).toBe(false);
  });
});
