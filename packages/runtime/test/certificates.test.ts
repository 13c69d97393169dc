import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec";
import { afterEach, describe, expect, it } from "vitest";
import {
  ADMIN_CERT_FILES,
  certificatesNeedRotation,
  createAdminCertificates,
  issueAdminClientCertificate,
  rotateAdminCertificates,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

const DAY = 86_400_000;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

function dir(): string {
  const t = tempDir("greentic-certs-");
  cleanups.push(t.cleanup);
  return join(t.dir, "admin");
}

const openssl = (...args: string[]) => spawnSync("openssl", args, { encoding: "utf8" });
const text = (file: string) => execFileSync("openssl", ["x509", "-in", file, "-noout", "-text"], { encoding: "utf8" });

describe("createAdminCertificates", () => {
  it("writes a CA, a server and a client certificate that openssl verifies", async () => {
    const d = dir();
    const created = await createAdminCertificates(d, { commonName: "ops-laptop" });
    expect(created.files).toEqual(
      Object.fromEntries(Object.entries(ADMIN_CERT_FILES).map(([k, f]) => [k, join(d, f)])),
    );
    for (const leaf of [created.files.serverCert, created.files.clientCert]) {
      const result = openssl("verify", "-CAfile", created.files.caCert, leaf);
      expect([result.status, result.stdout.trim()]).toEqual([0, `${leaf}: OK`]);
    }
    expect(
      openssl("verify", "-purpose", "sslserver", "-CAfile", created.files.caCert, created.files.serverCert).status,
    ).toBe(0);
    expect(
      openssl("verify", "-purpose", "sslclient", "-CAfile", created.files.caCert, created.files.clientCert).status,
    ).toBe(0);
    // Each certificate is good for its own side only.
    expect(
      openssl("verify", "-purpose", "sslclient", "-CAfile", created.files.caCert, created.files.serverCert).status,
    ).not.toBe(0);
    expect(
      openssl("verify", "-purpose", "sslserver", "-CAfile", created.files.caCert, created.files.clientCert).status,
    ).not.toBe(0);
  });

  it("uses ECDSA P-256, the right extensions and names", async () => {
    const { files } = await createAdminCertificates(dir(), { commonName: "ops-laptop" });
    const ca = text(files.caCert);
    expect(ca).toMatch(/CA:TRUE, pathlen:0/);
    expect(ca).toMatch(/Certificate Sign, CRL Sign/);
    const server = text(files.serverCert);
    expect(server).toMatch(/ASN1 OID: prime256v1/);
    expect(server).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(server).toMatch(/IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost/);
    expect(server).toMatch(/TLS Web Server Authentication/);
    expect(server).toMatch(/CA:FALSE/);
    const client = text(files.clientCert);
    expect(client).toMatch(/Subject: CN\s?=\s?ops-laptop/);
    expect(client).toMatch(/TLS Web Client Authentication/);
    expect(client).not.toMatch(/Subject Alternative Name/);
  });

  it("writes keys 0600 and certificates 0644 in a 0700 directory, each key matching its certificate", async () => {
    const d = dir();
    const { files } = await createAdminCertificates(d);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    for (const key of [files.caKey, files.serverKey, files.clientKey]) expect(statSync(key).mode & 0o777).toBe(0o600);
    for (const cert of [files.caCert, files.serverCert, files.clientCert])
      expect(statSync(cert).mode & 0o777).toBe(0o644);
    for (const [cert, key] of [
      [files.caCert, files.caKey],
      [files.serverCert, files.serverKey],
      [files.clientCert, files.clientKey],
    ] as const) {
      expect(readFileSync(key, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const fromCert = execFileSync("openssl", ["x509", "-in", cert, "-noout", "-pubkey"], { encoding: "utf8" });
      const fromKey = execFileSync("openssl", ["pkey", "-in", key, "-pubout"], { encoding: "utf8" });
      expect(fromKey).toBe(fromCert);
    }
  });

  it("honours now and validityDays (notAfter reported and in the certificate)", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const created = await createAdminCertificates(dir(), { now, validityDays: 10, caValidityDays: 20 });
    expect(created.notAfter).toEqual({
      ca: "2030-01-21T00:00:00.000Z",
      server: "2030-01-11T00:00:00.000Z",
      client: "2030-01-11T00:00:00.000Z",
    });
    expect(text(created.files.serverCert)).toMatch(/Not After : Jan 11 00:00:00 2030 GMT/);
    expect(text(created.files.serverCert)).toMatch(/Not Before: Dec 31 23:55:00 2029 GMT/);
  });

  it("refuses a non-positive validity and an odd common name", async () => {
    await expect(createAdminCertificates(dir(), { validityDays: 0 })).rejects.toMatchObject({
      kind: "invalid-argument",
      path: "validityDays",
    });
    await expect(createAdminCertificates(dir(), { commonName: "a,CN=evil" })).rejects.toMatchObject({
      kind: "invalid-argument",
      path: "commonName",
    });
  });
});

describe("issueAdminClientCertificate", () => {
  it("issues another client certificate from the existing CA", async () => {
    const d = dir();
    const { files } = await createAdminCertificates(d);
    const issued = await issueAdminClientCertificate(d, { name: "ci", commonName: "ci-bot" });
    expect(issued.cert).toBe(join(d, "ci.crt"));
    expect(openssl("verify", "-purpose", "sslclient", "-CAfile", files.caCert, issued.cert).status).toBe(0);
    expect(statSync(issued.key).mode & 0o777).toBe(0o600);
  });

  it("refuses a path-like name and a directory without a CA", async () => {
    const d = dir();
    await expect(issueAdminClientCertificate(d, { name: "../x" })).rejects.toMatchObject({ kind: "invalid-argument" });
    const error = await issueAdminClientCertificate(d).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GreenticError);
    expect(error).toMatchObject({ kind: "io", path: join(d, "ca.crt") });
  });
});

describe("rotation", () => {
  it("reports nothing to do for a fresh layout, and expiring leaves near their end", async () => {
    const d = dir();
    const created = await createAdminCertificates(d);
    expect(await certificatesNeedRotation(d)).toEqual({
      ca: null,
      server: null,
      client: null,
      any: false,
      notAfter: created.notAfter,
    });
    const later = new Date(Date.now() + 340 * DAY);
    expect(await certificatesNeedRotation(d, { now: later, withinDays: 30 })).toMatchObject({
      ca: null,
      server: "expiring",
      client: "expiring",
      any: true,
    });
    expect(await certificatesNeedRotation(d, { now: later, withinDays: 20 })).toMatchObject({ any: false });
  });

  it("reports missing files and leaves issued by another CA", async () => {
    const d = dir();
    await createAdminCertificates(d);
    rmSync(join(d, "client.key"));
    const other = dir();
    await createAdminCertificates(other);
    execFileSync("cp", [join(other, "server.crt"), join(other, "server.key"), d]);
    expect(await certificatesNeedRotation(d)).toMatchObject({
      ca: null,
      server: "not-issued-by-ca",
      client: "missing",
      any: true,
    });
    expect(await certificatesNeedRotation(dir())).toMatchObject({
      ca: "missing",
      server: "missing",
      client: "missing",
    });
  });

  it("re-issues expiring leaves from the same CA, keeping the client's common name", async () => {
    const d = dir();
    await createAdminCertificates(d, { commonName: "ops-laptop" });
    const caBefore = readFileSync(join(d, "ca.crt"), "utf8");
    const serverBefore = readFileSync(join(d, "server.crt"), "utf8");
    const now = new Date(Date.now() + 340 * DAY);
    const result = await rotateAdminCertificates(d, { now, withinDays: 30 });
    expect(result.rotated).toEqual({ ca: false, server: true, client: true });
    expect(readFileSync(join(d, "ca.crt"), "utf8")).toBe(caBefore);
    expect(readFileSync(join(d, "server.crt"), "utf8")).not.toBe(serverBefore);
    expect(new Date(result.notAfter.server).getTime()).toBeGreaterThan(now.getTime() + 360 * DAY);
    // Issued at the simulated future date, so verify at that date too.
    const at = String(Math.floor(now.getTime() / 1000));
    expect(
      openssl("verify", "-attime", at, "-CAfile", join(d, "ca.crt"), join(d, "server.crt"), join(d, "client.crt"))
        .status,
    ).toBe(0);
    expect(text(join(d, "client.crt"))).toMatch(/Subject: CN\s?=\s?ops-laptop/);
    expect((await certificatesNeedRotation(d, { now, withinDays: 30 })).any).toBe(false);
  });

  it("replaces everything when the CA itself is about to expire, and nothing when all is fine", async () => {
    const d = dir();
    await createAdminCertificates(d, { caValidityDays: 400 });
    const caBefore = readFileSync(join(d, "ca.crt"), "utf8");
    const untouched = await rotateAdminCertificates(d);
    expect(untouched.rotated).toEqual({ ca: false, server: false, client: false });
    expect(readFileSync(join(d, "ca.crt"), "utf8")).toBe(caBefore);
    const now = new Date(Date.now() + 380 * DAY);
    const rotated = await rotateAdminCertificates(d, { now });
    expect(rotated.rotated).toEqual({ ca: true, server: true, client: true });
    expect(readFileSync(join(d, "ca.crt"), "utf8")).not.toBe(caBefore);
    expect(
      openssl(
        "verify",
        "-attime",
        String(Math.floor(now.getTime() / 1000)),
        "-CAfile",
        join(d, "ca.crt"),
        join(d, "server.crt"),
        join(d, "client.crt"),
      ).status,
    ).toBe(0);
  });
});
