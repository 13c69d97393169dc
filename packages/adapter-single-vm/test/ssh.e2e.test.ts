// `op single-vm ... --host`: an operator process on this machine drives a booted testbed over
// the system OpenSSH client, against the testbed's own sshd on a loopback port, with a key made
// for the test and the VM's host key pinned. One boot for the whole suite.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "@greentic/bundle";
import { pgSkip, startPgCluster, type PgCluster } from "../../../scripts/test-support/pg-cluster.ts";
import { bootTestbed, PROJECT_MOUNT, testbedUnavailable, type Testbed } from "../../../scripts/testbed/testbed.ts";
import { freePort, makeBundle } from "./helpers.js";

const repo = join(import.meta.dirname, "../../..");
const unavailable = testbedUnavailable() ?? pgSkip();
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
  let storeUrl = "";
  const op = (...args: string[]) => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [join(repo, "apps/op/bin/run.js"), ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: home,
        GREENTIC_HOME: join(home, "greentic"),
        NO_COLOR: "1",
        ...(storeUrl === "" ? {} : { GREENTIC_STORE_URL: storeUrl }),
      },
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

  let pg: PgCluster | undefined;
  afterAll(async () => {
    // Whatever a failed test left deployed goes with the VM; the cluster is ours to stop.
    await tb?.stop();
    pg?.stop();
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
    // The one master (its socket named by the connection's parameters), closed by hand.
    const [socket] = readdirSync(join(home, "greentic/ssh"));
    execFileSync(
      "ssh",
      [
        "-o",
        `ControlPath=${join(home, "greentic/ssh", socket!)}`,
        "-O",
        "exit",
        "-p",
        String(sshPort),
        "root@127.0.0.1",
      ],
      { stdio: "ignore" },
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

  // --- An environment bound to the VM over SSH, state in PostgreSQL, a sudo-limited login ----

  let envPort = 0;
  let deploymentId = "";
  const revs: string[] = [];
  const envSpec = join(work, "shop.json");
  // By name, as an operator names a VM: the environment URL op prints must carry this host
  // (the proxy binds every address), not the VM's own view of itself (127.0.0.1).
  const login = () => `deployer@localhost:${sshPort}`;
  /** `count` requests from inside the VM to the environment's proxy: how many each version answered. */
  const split = (count: number) => {
    const bodies = tb.sh(`curl -s 'http://127.0.0.1:${envPort}/?n=[1-${count}]'`);
    return { v1: bodies.split("<h1>v1</h1>").length - 1, v2: bodies.split("<h1>v2</h1>").length - 1 };
  };
  const json = (r: { code: number | null; stdout: string; stderr: string }) => {
    if (r.code !== 0) throw new Error(`op exited ${r.code}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout).result;
  };

  it("binds prod to the VM (a non-root login limited by sudo to op's remote call), state in PostgreSQL, and deploys v1", {
    timeout: 300_000,
  }, async () => {
    pg = await startPgCluster();
    storeUrl = pg.url;
    expect(op("store", "migrate-schema").code).toBe(0);
    // The documented non-root login: its key behind `restrict`, and sudo for exactly one command.
    tb.sh(
      "useradd -m -s /bin/sh deployer && install -d -m 700 -o deployer -g deployer /home/deployer/.ssh && " +
        "printf 'deployer ALL=(root) NOPASSWD: /usr/local/bin/op single-vm remote-call\\n' > /etc/sudoers.d/greentic && " +
        "chmod 440 /etc/sudoers.d/greentic && visudo -cf /etc/sudoers.d/greentic >/dev/null",
    );
    writeFileSync(
      join(tb.root, "home/deployer/.ssh/authorized_keys"),
      `restrict ${readFileSync(`${key}.pub`, "utf8")}`,
      { mode: 0o600 },
    );
    tb.sh("chown deployer:deployer /home/deployer/.ssh/authorized_keys");
    // The VM's key pinned under the name the environment uses too.
    appendFileSync(
      knownHosts,
      readFileSync(knownHosts, "utf8").replace(`[127.0.0.1]:${sshPort}`, `[localhost]:${sshPort}`),
    );
    // The login may run op's remote call as root, and nothing else.
    const sshAs = (command: string) =>
      spawnSync(
        "ssh",
        [
          "-o",
          "BatchMode=yes",
          "-o",
          `UserKnownHostsFile=${knownHosts}`,
          "-i",
          key,
          "-p",
          String(sshPort),
          "deployer@127.0.0.1",
          command,
        ],
        { encoding: "utf8" },
      );
    const other = sshAs("sudo -n /usr/bin/id -u");
    expect(other.status).toBe(1);
    expect(other.stderr).toContain("a password is required");

    envPort = await freePort();
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    writeFileSync(
      envSpec,
      JSON.stringify({
        apiVersion: "greentic.ai/v1alpha1",
        kind: "Deployment",
        metadata: { name: "shop" },
        spec: {
          runtime: { binary: `${PROJECT_MOUNT}/packages/runtime/dist/bin.js`, publicBind: `0.0.0.0:${envPort}` },
          health: { startupTimeoutSeconds: 60 },
          rollout: { strategy: "canary", drainSeconds: 2, revisionPorts: `${base}-${base + 20}` },
        },
      }),
    );
    for (const v of ["v1", "v2", "v3"]) {
      const src = join(work, `src-${v}`);
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, "index.html"), `<h1>${v}</h1>\n`);
      await buildBundle({
        sourceDir: src,
        outFile: join(work, `shop-${v}.gtbundle`),
        bundleId: "shop",
        version: `${v.slice(1)}.0.0`,
      });
    }
    const bound = json(
      op(
        "env",
        "init",
        "--env",
        "prod",
        "--deployer",
        "single-vm",
        "--spec",
        envSpec,
        "--ssh",
        login(),
        "--known-hosts",
        knownHosts,
        "--identity",
        key,
        "--json",
      ),
    );
    expect(bound).toMatchObject({ environment_id: "prod", deployer: "greentic.deployer.single-vm@0.1.0" });
    const d1 = json(
      op("deploy", "--env", "prod", "--bundle", join(work, "shop-v1.gtbundle"), "--customer-id", "acme", "--json"),
    );
    deploymentId = d1.deployment_id;
    revs.push(d1.revision_id);
    expect(split(20)).toEqual({ v1: 20, v2: 0 });
    // The environment URL as this machine reaches it (the SSH target's host), and it answers here.
    expect(d1.environment_url).toBe(`http://localhost:${envPort}/`);
    expect(await (await fetch(d1.environment_url)).text()).toBe("<h1>v1</h1>\n");
    // The store is PostgreSQL's (nothing under this machine's GREENTIC_HOME); the deployer's
    // record is on the VM, and the admin endpoints listen on the VM's loopback only.
    expect(existsSync(join(home, "greentic/environments/prod"))).toBe(false);
    expect(pg.psql("SELECT count(*) FROM greentic.environments").trim()).toBe("1");
    expect(existsSync(join(tb.root, "var/lib/greentic/envs/prod/single-vm/single-vm-deployer.json"))).toBe(true);
    // (The proxy's public port binds every address, as the spec asks.)
    expect(tb.sh("ss -Hltn | awk '{print $4}'")).not.toMatch(
      new RegExp(`^(0\\.0\\.0\\.0|\\*|\\[::\\]):(?!(22|${envPort})\\b)`, "m"),
    );
  });

  it("deploys v2 at 10 %: 400 requests from inside the VM split 90/10 (v2 within 20..60, i.e. ±3.3 σ)", {
    timeout: 300_000,
  }, () => {
    const started = Date.now();
    const d2 = json(
      op(
        "deploy",
        "--env",
        "prod",
        "--bundle",
        join(work, "shop-v2.gtbundle"),
        "--customer-id",
        "acme",
        "--traffic",
        "10",
        "--json",
      ),
    );
    console.log(`deploy of v2 at 10 % over SSH: ${Date.now() - started} ms`);
    revs.push(d2.revision_id);
    const shown = json(op("traffic", "show", "prod", "--json"));
    expect(shown.splits[0].entries).toEqual([
      { revision_id: revs[0], weight_bps: 9_000 },
      { revision_id: revs[1], weight_bps: 1_000 },
    ]);
    expect(shown.drift).toBeUndefined();
    const counts = split(400);
    console.log(`400 requests at 90/10: ${JSON.stringify(counts)}`);
    expect(counts.v1 + counts.v2).toBe(400);
    expect(counts.v2).toBeGreaterThanOrEqual(20);
    expect(counts.v2).toBeLessThanOrEqual(60);
  });

  it("rolls back: every request answers v1 again", { timeout: 120_000 }, () => {
    json(op("traffic", "rollback", "prod", "--deployment", deploymentId, "--json"));
    expect(json(op("traffic", "show", "prod", "--json")).splits[0].entries).toEqual([
      { revision_id: revs[0], weight_bps: 10_000 },
    ]);
    expect(split(50)).toEqual({ v1: 50, v2: 0 });
    // The router's log, read on the VM by its op (op logs over SSH): the 50 requests just made,
    // one line each, newest last. The proxy's journal is merged in too: the worker the v2 warm
    // replaced logs its exit when `hard-stop-after` ends it, which can fall among these lines.
    const logs = json(op("logs", "prod", "--router", "-n", "20", "--json"));
    expect(logs.sources).toEqual([{ source: "router", unit: "greentic-shop-proxy.service" }]);
    const requests = logs.lines.filter((l: { line: string }) => !/^\[(NOTICE|WARNING|ALERT)\]/.test(l.line));
    expect(
      requests.slice(-5).map((l: { source: string; line: string }) => [l.source, l.line.replace(/ \d+ ms /, " N ms ")]),
    ).toEqual(Array(5).fill(["router", `127.0.0.1 GET / 200 N ms revision ${revs[0]}`]));
    // A configured public address is what op prints as the environment URL.
    expect(op("env", "update", "prod", "--public-url", "https://shop.example.com").code).toBe(0);
    expect(op("status", "prod").stdout).toMatch(/^url: +https:\/\/shop\.example\.com\/$/m);
  });

  it("runs a rollout from this machine (--foreground): status and abort from another process, traffic back on v1", {
    timeout: 180_000,
  }, async () => {
    // The VM cannot run the runner (it does not reach the store): refused before anything is recorded.
    const background = op("rollout", "start", "prod", "--to", revs[1]!, "--json");
    expect(background.code).toBe(3);
    expect(JSON.parse(background.stderr).error).toMatchObject({
      message:
        "environment prod's deployer cannot run a rollout in the background (no supervised runner for this environment)",
      hint: "run it in this process: op rollout start --foreground",
    });
    expect(op("rollout", "status", "prod").code).toBe(4);
    const runner = spawn(
      process.execPath,
      [
        join(repo, "apps/op/bin/run.js"),
        "rollout",
        "start",
        "prod",
        "--to",
        revs[1]!,
        "--steps",
        "50,100",
        "--interval",
        "10m",
        "--foreground",
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: home,
          GREENTIC_HOME: join(home, "greentic"),
          NO_COLOR: "1",
          GREENTIC_STORE_URL: storeUrl,
        },
        stdio: "ignore",
      },
    );
    const exited = new Promise<number | null>((resolve) => runner.on("exit", (code) => resolve(code)));
    try {
      let status: any;
      for (let i = 0; i < 120; i++) {
        const r = op("rollout", "status", "prod", "--json");
        status = r.code === 0 ? JSON.parse(r.stdout).result : undefined;
        if (status?.rollout.applied_step === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(status.rollout).toMatchObject({
        status: "running",
        candidate_revision_id: revs[1],
        steps_bps: [5_000, 10_000],
      });
      expect(json(op("traffic", "show", "prod", "--json")).splits[0].entries).toEqual([
        { revision_id: revs[0], weight_bps: 5_000 },
        { revision_id: revs[1], weight_bps: 5_000 },
      ]);
      expect(json(op("rollout", "abort", "prod", "--json")).rollout.status).toBe("aborted");
      expect(await exited).toBe(1);
    } finally {
      runner.kill("SIGKILL");
    }
    expect(json(op("traffic", "show", "prod", "--json")).splits[0].entries).toEqual([
      { revision_id: revs[0], weight_bps: 10_000 },
    ]);
    expect(split(50)).toEqual({ v1: 50, v2: 0 });
  });

  it("refuses a VM whose host key is not the pinned one (exit 5, hint): nothing staged, nothing recorded", () => {
    const pinned = readFileSync(knownHosts, "utf8");
    const before = json(op("revisions", "list", "prod", "--json"));
    const other = join(work, "other-key");
    const otherKey = readFileSync(`${other}.pub`, "utf8").split(" ");
    // A master connection made under the pinned key is alive (ControlPersist keeps it a
    // minute): the changed file must not reuse it, but make a new connection, checked again.
    const masters = readdirSync(join(home, "greentic/ssh"));
    const alive = masters.filter(
      (m) =>
        spawnSync("ssh", ["-o", `ControlPath=${join(home, "greentic/ssh", m)}`, "-O", "check", "x"], {
          stdio: "ignore",
        }).status === 0,
    );
    expect(alive.length).toBeGreaterThan(0);
    writeFileSync(knownHosts, `[localhost]:${sshPort} ${otherKey[0]} ${otherKey[1]}\n`);
    try {
      const r = op("deploy", "--env", "prod", "--bundle", join(work, "shop-v3.gtbundle"), "--customer-id", "acme");
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toContain(
        `${login()}: the host key differs from the one pinned in ${knownHosts}; refusing to connect`,
      );
      expect(r.stderr).toContain("if the VM was reinstalled, check its new key out of band");
    } finally {
      writeFileSync(knownHosts, pinned);
    }
    expect(json(op("revisions", "list", "prod", "--json"))).toEqual(before);
  });

  it("refuses a VM whose op is another version, naming both, before it acts", { timeout: 120_000 }, () => {
    const before = json(op("revisions", "list", "prod", "--json"));
    // A real op of another version: this checkout's op under another package version (op's
    // package.json is embedded in its bundle, in the chunk both of its start paths share).
    const old = join(tb.root, "opt/op-old");
    mkdirSync(join(old, "bin"), { recursive: true });
    const pjson = JSON.parse(readFileSync(join(repo, "apps/op/package.json"), "utf8"));
    writeFileSync(join(old, "package.json"), JSON.stringify({ ...pjson, version: "0.0.9" }));
    for (const f of ["oclif.manifest.json", "bin/run.js"])
      writeFileSync(join(old, f), readFileSync(join(repo, "apps/op", f)));
    tb.sh(
      `cp -r ${PROJECT_MOUNT}/apps/op/dist /opt/op-old/dist && ` +
        `sed -i 's|"name": "@greentic/op", "version": "${pjson.version}"|"name": "@greentic/op", "version": "0.0.9"|' $(grep -l '"name": "@greentic/op", "version"' /opt/op-old/dist/*.js) && ` +
        `ln -s ${PROJECT_MOUNT}/apps/op/node_modules /opt/op-old/node_modules && ` +
        "mv /usr/local/bin/op /usr/local/bin/op.current && printf '#!/bin/sh\\nexec /usr/bin/node /opt/op-old/bin/run.js \"$@\"\\n' > /usr/local/bin/op && chmod 755 /usr/local/bin/op",
    );
    try {
      expect(tb.run("/usr/local/bin/op", ["--version"]).stdout).toMatch(/^@greentic\/op\/0\.0\.9 /);
      const r = op(
        "deploy",
        "--env",
        "prod",
        "--bundle",
        join(work, "shop-v3.gtbundle"),
        "--customer-id",
        "acme",
        "--json",
      );
      expect(r.code, r.stderr).toBe(3);
      expect(JSON.parse(r.stderr).error).toMatchObject({
        kind: "precondition-failed",
        message: `${login()}: the VM's op (/usr/local/bin/op) is version 0.0.9, this machine's op is version ${pjson.version}; refusing to act with two versions`,
        details: { code: "op-version-mismatch" },
      });
    } finally {
      tb.sh("mv -f /usr/local/bin/op.current /usr/local/bin/op");
    }
    expect(json(op("revisions", "list", "prod", "--json"))).toEqual(before);
    expect(split(20)).toEqual({ v1: 20, v2: 0 });
  });

  it("destroys prod over SSH: nothing of it is left on the VM", { timeout: 120_000 }, async () => {
    json(op("env", "destroy", "prod", "--confirm", "--json"));
    await expect(get(envPort)).rejects.toThrow(/ECONNREFUSED/);
    expect(tb.sh("ls /etc/systemd/system | grep -c '^greentic-shop' || true").trim()).toBe("0");
    expect(existsSync(join(tb.root, "var/lib/greentic/envs/prod/single-vm/single-vm-deployer.json"))).toBe(false);
    expect(op("env", "show", "prod").code).toBe(4);
  });
});
