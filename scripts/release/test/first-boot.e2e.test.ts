// Acceptance of `op single-vm cloud-init`: a fresh Debian 12 host (systemd-nspawn, cloud-init
// installed, no Node.js: the host's node is not bound in) boots with a NoCloud seed holding the
// user-data the release's `op` produced; the artifacts come from a loopback HTTP server with
// their real SHA-256. With no other step the bundle's page is served, /ready answers over mTLS
// and cloud-init reports done, natively and in a container; a tampered artifact fails the boot
// before anything is installed, naming the expected and actual digests.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request, type Server } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminRequest } from "../../../packages/runtime/src/index.ts";
import { bootTestbed, testbedUnavailable, type Testbed } from "../../testbed/testbed.ts";
import { sha256File } from "../lib.ts";
import { releaseFixture } from "./release-fixture.ts";

const unavailable = testbedUnavailable();
if (unavailable) console.warn(`first-boot e2e skipped: ${unavailable}`);
const tmp = mkdtempSync(join(tmpdir(), "greentic-first-boot-"));
let release = "";
let files = "";
let server: Server;
let base = "";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  if (unavailable) return;
  release = releaseFixture();
  files = join(tmp, "www");
  mkdirSync(files);
  for (const f of ["op-linux-x64", "greentic-runtime-linux-x64", "greentic-runtime-image-linux-x64.oci.tar"])
    copyFileSync(join(release, f), join(files, f));
  const site = join(tmp, "site");
  mkdirSync(site);
  writeFileSync(join(site, "index.html"), "<h1>first boot</h1>\n");
  execFileSync(join(release, "op-linux-x64"), [
    "bundles",
    "build",
    site,
    "--bundle-id",
    "site",
    "--bundle-version",
    "1.0.0",
    "--out",
    join(files, "site.gtbundle"),
  ]);
  // The tampered copy differs from the bundle in one byte.
  const bytes = readFileSync(join(files, "site.gtbundle"));
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
  writeFileSync(join(files, "site-tampered.gtbundle"), bytes);
  server = createHttpServer((req, res) => {
    try {
      const body = readFileSync(join(files, decodeURIComponent(req.url!.slice(1)).replace(/\//g, "")));
      res.writeHead(200, { "Content-Length": body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}, 900_000);

afterAll(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  rmSync(tmp, { recursive: true, force: true });
});

interface Booted {
  tb: Testbed;
  name: string;
  publicPort: number;
  adminPort: number;
  status: { code: number; out: string };
  log: string;
}

/** Renders the user-data with the release's op, seeds it and boots; returns once cloud-init is done. */
async function firstBoot(mode: "native" | "container", bundleFile = "site.gtbundle"): Promise<Booted> {
  const name = `fb${mode === "native" ? "n" : "c"}${process.pid}`;
  const publicPort = await freePort();
  const adminPort = await freePort();
  const version = JSON.parse(readFileSync(join(release, "release.json"), "utf8")).image.reference as string;
  const spec = join(tmp, `${name}.yaml`);
  writeFileSync(
    spec,
    [
      "apiVersion: greentic.ai/v1alpha1",
      "kind: Deployment",
      `metadata:\n  name: ${name}`,
      "spec:",
      `  bundle:\n    source: file:///opt/greentic/bundles/${name}.gtbundle`,
      "  runtime:",
      mode === "native" ? "    binary: /usr/local/bin/greentic-runtime" : `    image: ${version}`,
      `    publicBind: 127.0.0.1:${publicPort}`,
      `    admin:\n      bind: 127.0.0.1:${adminPort}`,
      "",
    ].join("\n"),
  );
  const artifact = (key: string, file: string, digestOf = file) => [
    "--artifact",
    `${key}=${base}/${file}@sha256:${sha256File(join(files, digestOf))}`,
  ];
  const userData = execFileSync(
    join(release, "op-linux-x64"),
    [
      "single-vm",
      "cloud-init",
      "--spec",
      spec,
      ...artifact("op", "op-linux-x64"),
      ...(mode === "native"
        ? artifact("runtime", "greentic-runtime-linux-x64")
        : artifact("image", "greentic-runtime-image-linux-x64.oci.tar")),
      // The tampered case serves a file that differs from the one whose digest was published.
      ...artifact("bundle", bundleFile, "site.gtbundle"),
    ],
    { encoding: "utf8" },
  );
  const tb = await bootTestbed({
    name,
    extra: "cloud-init,locales",
    bindHost: false,
    timeoutMs: 600_000,
    prepare: (root) => {
      const seed = join(root, "var/lib/cloud/seed/nocloud");
      mkdirSync(seed, { recursive: true });
      writeFileSync(join(seed, "user-data"), userData);
      writeFileSync(join(seed, "meta-data"), `instance-id: iid-${name}\nlocal-hostname: ${name}\n`);
    },
  });
  const wait = tb.run("cloud-init", ["status", "--wait", "--long"], { timeoutMs: 600_000 });
  const log = tb.run("cat", ["/var/log/cloud-init-output.log"]).stdout;
  return { tb, name, publicPort, adminPort, status: { code: wait.code, out: wait.stdout }, log };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

async function expectServing(b: Booted): Promise<void> {
  expect(b.status.out, b.log).toMatch(/^status: done$/m);
  expect(b.status.code, b.status.out).toBe(0);
  expect(b.log).toContain(
    `greentic-firstboot: ${b.name} ready: https://127.0.0.1:${b.adminPort}/ready answered over mTLS`,
  );
  // No Node.js anywhere on the host: the executables carry their own.
  expect(b.tb.run("sh", ["-c", "command -v node nodejs npm"]).code).not.toBe(0);
  expect(b.tb.run("test", ["-e", "/usr/bin/node"]).code).not.toBe(0);
  expect(await get(b.publicPort, "/")).toEqual({ status: 200, body: "<h1>first boot</h1>\n" });
  const ready = await adminRequest({
    address: `127.0.0.1:${b.adminPort}`,
    path: "/ready",
    certDir: `${b.tb.root}/etc/greentic/${b.name}/deployer`,
  });
  expect(ready.status).toBe(200);
  expect(b.tb.run("systemctl", ["is-active", `greentic-${b.name}.service`]).stdout.trim()).toBe("active");
}

/** `systemd-analyze security`'s overall exposure of the deployment's service, on the booted host. */
function exposure(b: Booted): number {
  const out = b.tb.sh(`systemd-analyze security --no-pager greentic-${b.name}.service`);
  const m = /Overall exposure level for greentic-\S+\.service: (\d+\.\d)/.exec(out);
  if (!m) throw new Error(`no exposure level in: ${out.slice(-500)}`);
  return Number(m[1]);
}

describe.skipIf(unavailable !== undefined)("first boot from the release artifacts", { timeout: 900_000 }, () => {
  it("native: the host boots, cloud-init installs the executables, applies and serves the bundle", async () => {
    const b = await firstBoot("native");
    try {
      await expectServing(b);
      expect(b.tb.sh("/usr/local/bin/op --version")).toMatch(/^@greentic\/op\/\S+ commit \S+ linux-x64/);
      const unit = b.tb.sh(`systemctl cat greentic-${b.name}.service`);
      expect(unit).toMatch(/^ExecStart=\/var\/lib\/greentic\/\S+\/runtime\/[0-9a-f]{64}\/runtime$/m);
      expect(exposure(b)).toBeLessThanOrEqual(4.2);
    } finally {
      await b.tb.stop();
    }
  });

  it("container: the image archive is loaded and the runtime runs in a read-only container", async () => {
    const b = await firstBoot("container");
    try {
      await expectServing(b);
      const ps = b.tb.sh(`podman ps --format '{{.Image}} {{.Names}}'`).trim();
      expect(ps).toBe(
        `${JSON.parse(readFileSync(join(release, "release.json"), "utf8")).image.reference} greentic-${b.name}`,
      );
      expect(b.tb.sh(`podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' greentic-${b.name}`).trim()).toBe(
        "true",
      );
      // The engine's unit is confined too (9.6 "UNSAFE" before the hardening).
      expect(exposure(b)).toBeLessThanOrEqual(5.0);
    } finally {
      await b.tb.stop();
    }
  });

  it("a bundle one byte off fails the boot before anything is installed, naming both digests", async () => {
    const b = await firstBoot("native", "site-tampered.gtbundle");
    try {
      const expected = sha256File(join(files, "site.gtbundle"));
      const actual = sha256File(join(files, "site-tampered.gtbundle"));
      expect(b.status.out).toMatch(/^status: error$/m);
      expect(b.status.code).not.toBe(0);
      expect(b.log).toContain(
        `greentic-firstboot: bundle: SHA-256 mismatch for ${base}/site-tampered.gtbundle: expected ${expected}, actual ${actual}; nothing was installed`,
      );
      for (const path of [
        "/usr/local/bin/op",
        "/usr/local/bin/greentic-runtime",
        `/opt/greentic/bundles/${b.name}.gtbundle`,
        `/etc/systemd/system/greentic-${b.name}.service`,
      ])
        expect(b.tb.run("test", ["-e", path]).code, path).not.toBe(0);
    } finally {
      await b.tb.stop();
    }
  });
});
