// `pnpm release` end to end: the single-file executables, their checksums and metadata, and the
// runtime executable behaving exactly as `node packages/runtime/dist/bin.js` does.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminRequest,
  createAdminCertificates,
  readListenFile,
  runtimeBinPath,
} from "../../../packages/runtime/src/index.ts";
import { parseLdd } from "../image.ts";
import { releaseCommit, sha256File } from "../lib.ts";
import { releaseFixture } from "./release-fixture.ts";
import { release as untrack, stopTracked, track } from "../../test-support/leftovers.ts";

const repo = resolve(import.meta.dirname, "../../..");
const tmp = mkdtempSync(join(tmpdir(), "greentic-release-test-"));
// Routers and runtimes the executables start are detached: stopped by the run even when a test
// fails before its destroy.
track({ dir: tmp });
let release = "";
let op = "";
let runtime = "";

beforeAll(() => {
  release = releaseFixture();
  op = join(release, "op-linux-x64");
  runtime = join(release, "greentic-runtime-linux-x64");
}, 600_000);
afterAll(() => {
  stopTracked([{ dir: tmp, remove: false }]);
  untrack(tmp);
  spawnSync("chmod", ["-R", "u+w", tmp]);
  rmSync(tmp, { recursive: true, force: true });
});

/** An environment with no node, no node_modules and no PATH to find either. */
const bareEnv = (extra: Record<string, string> = {}) => ({ PATH: "/nonexistent", HOME: tmp, NO_COLOR: "1", ...extra });

describe("release directory", () => {
  it("lists each executable in SHA256SUMS and release.json with its real digest and size", () => {
    const sums = readFileSync(join(release, "SHA256SUMS"), "utf8");
    const lines = sums.trim().split("\n");
    expect(lines.map((l) => l.split("  ")[1])).toEqual([
      "op-linux-x64",
      "greentic-runtime-linux-x64",
      "greentic-runtime-image-linux-x64.oci.tar",
    ]);
    for (const line of lines) {
      const [digest, file] = line.split("  ");
      expect(digest).toBe(sha256File(join(release, file!)));
    }
    expect(spawnSync("sha256sum", ["--check", "SHA256SUMS"], { cwd: release }).status).toBe(0);
    const meta = JSON.parse(readFileSync(join(release, "release.json"), "utf8"));
    const version = JSON.parse(readFileSync(join(repo, "apps/op/package.json"), "utf8")).version;
    expect(meta).toMatchObject({ schema: "greentic.release.v1", commit: releaseCommit(repo), platform: "linux-x64" });
    expect(
      meta.artifacts.map((a: { file: string; package: string; version: string }) => [a.file, a.package, a.version]),
    ).toEqual([
      ["op-linux-x64", "@greentic/op", version],
      ["greentic-runtime-linux-x64", "@greentic/runtime", version],
    ]);
    expect(meta.image).toMatchObject({
      reference: `localhost/greentic-runtime:${version}`,
      file: "greentic-runtime-image-linux-x64.oci.tar",
    });
    for (const a of [...meta.artifacts, meta.image] as { file: string; size: number; sha256: string }[]) {
      expect(a.size).toBe(readFileSync(join(release, a.file)).length);
      expect(a.sha256).toBe(sha256File(join(release, a.file)));
    }
  });

  it("links the executables against system libraries only (nothing of Node or node_modules)", () => {
    for (const exe of [op, runtime]) {
      const libs = execFileSync("ldd", [exe], { encoding: "utf8" });
      for (const line of libs.trim().split("\n"))
        expect(line).toMatch(/^\s*(linux-vdso|\/lib64\/ld-linux|lib[\w+.-]+\.so)/);
      expect(libs).not.toMatch(/node|not found/);
    }
  });
});

describe("op executable", () => {
  it("names its version and commit", () => {
    const version = JSON.parse(readFileSync(join(repo, "apps/op/package.json"), "utf8")).version;
    const out = execFileSync(op, ["--version"], { env: bareEnv(), encoding: "utf8" });
    expect(out).toBe(
      `@greentic/op/${version} commit ${releaseCommit(repo)} linux-x64 node-${process.version} (single executable)\n`,
    );
    const verb = JSON.parse(execFileSync(op, ["version", "--json"], { env: bareEnv(), encoding: "utf8" }));
    expect(verb.result).toEqual({
      version,
      commit: releaseCommit(repo),
      node: process.version,
      platform: "linux-x64",
    });
  });

  it("answers an unknown command with did-you-mean and exit 2", () => {
    const typo = spawnSync(op, ["revisions", "wram"], { env: bareEnv(), encoding: "utf8" });
    expect(typo.stderr).toBe(
      'Error: unknown command "revisions wram"\nHint: did you mean "op revisions warm"? (`op help` lists every command)\n',
    );
    expect(typo.status).toBe(2);
  });

  it("runs from a directory of its own with no node and no node_modules: init, show, schema, errors", () => {
    const dir = mkdtempSync(join(tmp, "bare-"));
    const exe = join(dir, "op");
    copyFileSync(op, exe);
    chmodSync(exe, 0o755);
    const store = join(dir, "store");
    const init = spawnSync(exe, ["env", "init", "--store-root", store, "--json"], {
      cwd: dir,
      env: bareEnv(),
      encoding: "utf8",
    });
    expect(init.stderr).toBe("");
    expect(init.status).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ op: "init", noun: "env" });
    const show = spawnSync(exe, ["env", "show", "local", "--json", "--store-root", store], {
      cwd: dir,
      env: bareEnv(),
      encoding: "utf8",
    });
    expect(show.status).toBe(0);
    expect(JSON.parse(show.stdout).result.environment.environment_id).toBe("local");
    const schema = spawnSync(exe, ["traffic", "set", "--schema"], { env: bareEnv(), encoding: "utf8" });
    expect(schema.status).toBe(0);
    expect(JSON.parse(schema.stdout)).toEqual(
      JSON.parse(readFileSync(join(repo, "packages/deploy-spec/schemas/answers-traffic-set.schema.json"), "utf8")),
    );
    const missing = spawnSync(exe, ["env", "show", "nope", "--store-root", store], {
      env: bareEnv(),
      encoding: "utf8",
    });
    expect(missing.status).toBe(4);
    expect(missing.stderr).toContain("environment nope does not exist");
    const usage = spawnSync(exe, ["env", "show", "--bogus"], { env: bareEnv(), encoding: "utf8" });
    expect(usage.status).toBe(2);
    const help = spawnSync(exe, ["help", "single-vm"], { env: bareEnv(), encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("single-vm cloud-init");
  });
});

describe("op executable deploying to the local environment", () => {
  /** Processes whose program is `exe`, as `[pid, argv]`. */
  const processesOf = (exe: string) =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .flatMap((pid) => {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
          return argv[0] === exe ? [[Number(pid), argv] as const] : [];
        } catch {
          return [];
        }
      });

  it("with no node, no node_modules and no runtime beside it: init, build, deploy, page served, destroy", async () => {
    const dir = mkdtempSync(join(tmp, "local-"));
    const exe = join(dir, "op");
    copyFileSync(op, exe);
    chmodSync(exe, 0o755);
    // PATH holds the two squashfs tools bundles need and nothing else: no node anywhere.
    const tools = join(dir, "tools");
    mkdirSync(tools);
    for (const tool of ["mksquashfs", "unsquashfs"])
      symlinkSync(execFileSync("which", [tool], { encoding: "utf8" }).trim(), join(tools, tool));
    expect(readdirSync(dir).sort()).toEqual(["op", "tools"]);
    const env = bareEnv({ PATH: tools, GREENTIC_HOME: join(dir, "home") });
    const run = (...args: string[]) => {
      const r = spawnSync(exe, args, { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
      expect(r.status, `op ${args.join(" ")}\n${r.stdout}${r.stderr}`).toBe(0);
      return r.stdout;
    };
    run("env", "init");
    const bundle = join(dir, "hello.gtbundle");
    run(
      "bundles",
      "build",
      join(repo, "fixtures/bundles/hello"),
      "--bundle-id",
      "hello",
      "--bundle-version",
      "0.1.0",
      "--out",
      bundle,
    );
    const deployed = JSON.parse(run("deploy", "--bundle", bundle, "--json")).result;
    const url = new URL(deployed.environment_url);
    const page = await get(Number(url.port), "/");
    expect(page.status).toBe(200);
    expect(page.body).toBe(readFileSync(join(repo, "fixtures/bundles/hello/index.html"), "utf8"));
    // The router's keeper, the router it keeps (`--serve-for KEEPER`) and the runtime are this op,
    // each running its role.
    const roles = processesOf(exe)
      .map(([, argv]) => `${argv.slice(1, 3).join(" ")}${argv.includes("--serve-for") ? " (kept)" : ""}`)
      .sort();
    expect(roles).toEqual(["--greentic-role router", "--greentic-role router (kept)", "--greentic-role runtime"]);
    const status = JSON.parse(run("status", "--json")).result;
    expect(status.environment_url).toBe(deployed.environment_url);
    expect(status.revisions).toHaveLength(1);
    expect(status.revisions[0]).toMatchObject({ lifecycle: "ready", live: "running", weight_bps: 10000 });
    expect(status.router.state).toBe("running");
    run("env", "destroy", "local", "--confirm");
    for (let i = 0; i < 100 && processesOf(exe).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(processesOf(exe)).toEqual([]);
    // A fresh connection (the HTTP agent would reuse the closed keep-alive one).
    const refused = await new Promise<string>((done) =>
      connect(Number(url.port), "127.0.0.1")
        .on("connect", function (this: Socket) {
          this.destroy();
          done("connected");
        })
        .on("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message)),
    );
    expect(refused).toBe("ECONNREFUSED");
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
  }, 240_000);

  it("refuses a runtime script it has no node for, naming the variable, and leaves the environment as it was", () => {
    const dir = mkdtempSync(join(tmp, "script-"));
    const env = bareEnv({ GREENTIC_HOME: join(dir, "home"), GREENTIC_RUNTIME_BIN: "/opt/runtime/bin.js" });
    expect(spawnSync(op, ["env", "init"], { env, encoding: "utf8" }).status).toBe(0);
    const doctor = spawnSync(op, ["env", "doctor", "--json"], { env, encoding: "utf8" });
    expect(doctor.stdout).toContain(
      "GREENTIC_RUNTIME_BIN /opt/runtime/bin.js is a script, and this op has no node to run it",
    );
  });
});

let fixture: { bundleDir: string; certs: Awaited<ReturnType<typeof createAdminCertificates>> };
describe("runtime executable", () => {
  beforeAll(async () => {
    const bundleDir = join(tmp, "bundle");
    mkdirSync(join(bundleDir, "assets"), { recursive: true });
    writeFileSync(join(bundleDir, "index.html"), "<!doctype html><title>t</title><p>hello</p>\n");
    writeFileSync(join(bundleDir, "assets", "app.js"), "console.log(1);\n");
    writeFileSync(
      join(bundleDir, "bundle-manifest.json"),
      JSON.stringify({ schema: "greentic.bundle-manifest.v1", bundle_id: "t", version: "1.0.0" }),
    );
    execFileSync("chmod", ["-R", "a-w", bundleDir]);
    fixture = { bundleDir, certs: await createAdminCertificates(join(tmp, "certs")) };
  });

  function runtimeEnv() {
    const run = mkdtempSync(join(tmp, "run-"));
    for (const d of ["state", "cache", "log", "tmp"]) mkdirSync(join(run, d));
    return {
      PATH: "/nonexistent",
      GREENTIC_BUNDLE_DIR: fixture.bundleDir,
      GREENTIC_STATE_DIR: join(run, "state"),
      GREENTIC_CACHE_DIR: join(run, "cache"),
      GREENTIC_LOG_DIR: join(run, "log"),
      GREENTIC_TEMP_DIR: join(run, "tmp"),
      GREENTIC_PUBLIC_BIND: "127.0.0.1:0",
      GREENTIC_ADMIN_BIND: "127.0.0.1:0",
      GREENTIC_ADMIN_CA_FILE: fixture.certs.files.caCert,
      GREENTIC_ADMIN_CERT_FILE: fixture.certs.files.serverCert,
      GREENTIC_ADMIN_KEY_FILE: fixture.certs.files.serverKey,
    };
  }

  async function observe(argv: string[]) {
    const env = runtimeEnv();
    const child: ChildProcess = spawn(argv[0]!, argv.slice(1), {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const tls = {
        ca: readFileSync(fixture.certs.files.caCert),
        cert: readFileSync(fixture.certs.files.clientCert),
        key: readFileSync(fixture.certs.files.clientKey),
      };
      for (let i = 0; ; i++) {
        const listen = await readListenFile(env.GREENTIC_STATE_DIR).catch(() => null);
        if (listen) {
          const ready = await adminRequest({ address: listen.admin, path: "/ready", tls }).catch(() => null);
          if (ready?.status === 200) {
            const noCert = await adminRequest({
              address: listen.admin,
              path: "/ready",
              tls: { ca: tls.ca } as never,
            }).then(
              (r) => r.status,
              (e: Error) => e.constructor.name,
            );
            const pages = [];
            for (const path of ["/", "/assets/app.js", "/missing", "/../etc/passwd"])
              pages.push(await get(listen.public.port, path));
            return { ready: ready.status, readyBody: JSON.parse(ready.body), noCert, pages };
          }
        }
        if (child.exitCode !== null || i > 3000) throw new Error(`${argv.join(" ")} did not get ready`);
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
      }
    }
  }

  it("serves the same pages, headers and admin answers as node dist/bin.js", async () => {
    const viaNode = await observe([process.execPath, runtimeBinPath()]);
    const viaSea = await observe([runtime]);
    expect(viaNode.ready).toBe(200);
    expect(viaNode.pages.map((p) => p.status)).toEqual([200, 200, 404, 400]);
    expect(viaNode.pages[0]!.body).toBe("<!doctype html><title>t</title><p>hello</p>\n");
    expect(viaSea).toEqual(viaNode);
  });

  it("rejects a bad configuration with the same message and exit code 2", () => {
    const env = { ...runtimeEnv(), GREENTIC_ADMIN_BIND: "0.0.0.0:9" };
    const viaNode = spawnSync(process.execPath, [runtimeBinPath()], { env, encoding: "utf8" });
    const viaSea = spawnSync(runtime, [], { env, encoding: "utf8" });
    expect(viaNode.status).toBe(2);
    expect(viaSea.status).toBe(2);
    const strip = (s: string) => s.replace(/"(ts|time)":"[^"]+"/g, "");
    expect(strip(viaSea.stdout + viaSea.stderr)).toBe(strip(viaNode.stdout + viaNode.stderr));
    expect(viaSea.stdout + viaSea.stderr).toContain("GREENTIC_ADMIN_BIND");
  });
});

describe("runtime image", () => {
  const archive = () => join(release, "greentic-runtime-image-linux-x64.oci.tar");
  const meta = () => JSON.parse(readFileSync(join(release, "release.json"), "utf8"));

  it("is reproducible: a second build of the same commit gives byte-identical executables, image and archive", () => {
    const second = join(tmp, "release-2");
    execFileSync(process.execPath, [join(repo, "scripts/release/build.ts")], {
      env: { ...process.env, GREENTIC_RELEASE_DIR: second },
      stdio: ["ignore", "ignore", "pipe"],
    });
    // Every artifact, op included (its V8 code cache is built with a fixed seed; see sea.ts).
    expect(readFileSync(join(second, "SHA256SUMS"), "utf8")).toBe(readFileSync(join(release, "SHA256SUMS"), "utf8"));
    expect(readFileSync(join(second, "release.json"), "utf8")).toBe(
      readFileSync(join(release, "release.json"), "utf8"),
    );
    expect(sha256File(join(second, "op-linux-x64"))).toBe(sha256File(op));
    // The second op uses its code cache: V8 warns on stderr when it rejects one.
    const started = spawnSync(join(second, "op-linux-x64"), ["--help"], { env: bareEnv(), encoding: "utf8" });
    expect(started.status).toBe(0);
    expect(started.stderr).toBe("");
  }, 180_000);

  it("holds the executable and its libraries only, runs as 65532 with the runtime as entrypoint", () => {
    const layout = mkdtempSync(join(tmp, "oci-"));
    execFileSync("tar", ["-xf", archive(), "-C", layout]);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
    const blob = (d: string) => join(layout, "blobs", d.replace(":", "/"));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8"));
    expect(`sha256:${meta().image.id}`).toBe(manifest.config.digest);
    expect(config.config.User).toBe("65532:65532");
    expect(config.config.Entrypoint).toEqual(["/usr/local/bin/greentic-runtime"]);
    expect(config.config.Labels["org.opencontainers.image.revision"]).toBe(releaseCommit(repo));
    expect(manifest.layers).toHaveLength(1);
    const files = execFileSync("tar", ["-tvzf", blob(manifest.layers[0].digest)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("d"))
      .map((l) => {
        const f = l.split(/\s+/);
        return `${f[0]} ${f[1]} ${f[5]}`;
      })
      .sort();
    const libs = parseLdd(execFileSync("ldd", [runtime], { encoding: "utf8" }));
    expect(files).toEqual(
      [
        "-rw-r--r-- 0/0 etc/group",
        "-rw-r--r-- 0/0 etc/passwd",
        "-rwxr-xr-x 0/0 usr/local/bin/greentic-runtime",
        ...libs.map((l) => `${l.includes("/ld-linux") ? "-rwxr-xr-x" : "-rw-r--r--"} 0/0 ${l.slice(1)}`),
      ].sort(),
    );
    expect(files.join("\n")).not.toMatch(/\bsh\b|busybox|apt|dpkg|node_modules/);
  });

  it("loads with podman and serves the bundle read-only as uid 65532; there is no shell to run", async () => {
    const ref = `localhost/greentic-runtime-test-${process.pid}:load`;
    execFileSync("podman", ["load", "--quiet", "--input", archive()], { stdio: "ignore" });
    execFileSync("podman", ["tag", meta().image.id, ref]);
    const run = mkdtempSync(join(tmp, "container-"));
    for (const d of ["state", "cache", "log", "tmp"]) mkdirSync(join(run, d));
    execFileSync("chown", ["-R", "65532:65532", run]);
    const certs = fixture.certs.files;
    execFileSync("chmod", ["a+rx", tmp, join(tmp, "certs")]);
    execFileSync("chmod", ["a+r", certs.caCert, certs.serverCert, certs.serverKey]);
    const name = `greentic-image-test-${process.pid}`;
    const env = {
      GREENTIC_BUNDLE_DIR: "/bundle",
      GREENTIC_STATE_DIR: join(run, "state"),
      GREENTIC_CACHE_DIR: join(run, "cache"),
      GREENTIC_LOG_DIR: join(run, "log"),
      GREENTIC_TEMP_DIR: join(run, "tmp"),
      GREENTIC_PUBLIC_BIND: "127.0.0.1:0",
      GREENTIC_ADMIN_BIND: "127.0.0.1:0",
      GREENTIC_ADMIN_CA_FILE: certs.caCert,
      GREENTIC_ADMIN_CERT_FILE: certs.serverCert,
      GREENTIC_ADMIN_KEY_FILE: certs.serverKey,
    };
    const args = [
      "--runtime",
      "runc",
      "run",
      "--rm",
      "--name",
      name,
      "--read-only",
      "--network",
      "host",
      "--cap-drop",
      "all",
      "--security-opt",
      "no-new-privileges",
      "--volume",
      `${fixture.bundleDir}:/bundle:ro`,
      "--volume",
      `${run}:${run}`,
      "--volume",
      `${join(tmp, "certs")}:${join(tmp, "certs")}:ro`,
      ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
      ref,
    ];
    const child = spawn("podman", args, { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout!.on("data", (c: Buffer) => (log += c));
    child.stderr!.on("data", (c: Buffer) => (log += c));
    try {
      const tls = {
        ca: readFileSync(certs.caCert),
        cert: readFileSync(certs.clientCert),
        key: readFileSync(certs.clientKey),
      };
      let page: Awaited<ReturnType<typeof get>> | undefined;
      for (let i = 0; i < 600 && !page; i++) {
        const listen = await readListenFile(env.GREENTIC_STATE_DIR).catch(() => null);
        const ready = listen
          ? await adminRequest({ address: listen.admin, path: "/ready", tls }).catch(() => null)
          : null;
        if (listen && ready?.status === 200) page = await get(listen.public.port, "/");
        else await new Promise((r) => setTimeout(r, 100));
        if (child.exitCode !== null) break;
      }
      expect(page?.status, log).toBe(200);
      expect(page?.body).toBe("<!doctype html><title>t</title><p>hello</p>\n");
      const who = execFileSync("podman", ["top", name, "huser", "hgroup"], { encoding: "utf8" });
      expect(who.trim().split("\n")[1]!.trim().split(/\s+/)).toEqual(["65532", "65532"]);
      // The state files belong to the unprivileged user.
      expect(statSync(join(env.GREENTIC_STATE_DIR, "listen.json")).uid).toBe(65532);
    } finally {
      spawnSync("podman", ["stop", "-t", "10", name], { stdio: "ignore" });
    }
    const shell = spawnSync(
      "podman",
      ["--runtime", "runc", "run", "--rm", "--entrypoint", "/bin/sh", ref, "-c", "true"],
      {
        encoding: "utf8",
      },
    );
    expect(shell.status).not.toBe(0);
    expect(shell.stderr).toMatch(/\/bin\/sh.*(no such file|not found)/i);
    spawnSync("podman", ["rmi", ref], { stdio: "ignore" });
  }, 120_000);
});

function get(port: number, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolvePage, reject) => {
    const req = request({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        const { date: _date, ...headers } = res.headers;
        resolvePage({ status: res.statusCode ?? 0, headers, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}
