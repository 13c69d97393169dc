import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../src/index.js";
import { create, pgSkip, rejects, startPgCluster, type PgCluster } from "./helpers.js";

// sslmode=verify-full against a server with a certificate from a test CA: the right CA and
// host name connect; another CA, or a host name the certificate does not name, is refused.

const skip = pgSkip();

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "ignore" });
}

describe.skipIf(skip !== undefined)("TLS: sslmode=verify-full", () => {
  let cluster: PgCluster;
  let pki: string;
  beforeAll(async () => {
    pki = mkdtempSync(join(tmpdir(), "gt-pg-tls-"));
    chmodSync(pki, 0o755);
    for (const ca of ["ca", "other-ca"])
      openssl(
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          `${ca}.key`,
          "-out",
          `${ca}.crt`,
          "-days",
          "2",
          "-subj",
          `/CN=${ca}`,
        ],
        pki,
      );
    openssl(
      ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
      pki,
    );
    writeFileSync(join(pki, "san.ext"), "subjectAltName=DNS:localhost\n");
    openssl(
      [
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
      ],
      pki,
    );
    // The server refuses a key others can read, and must own it.
    chmodSync(join(pki, "server.key"), 0o600);
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
      chownSync(join(pki, "server.key"), uid, gid);
    }
    cluster = await startPgCluster({
      settings: { ssl: "on", ssl_cert_file: join(pki, "server.crt"), ssl_key_file: join(pki, "server.key") },
    });
    cluster.psql("CREATE DATABASE tls");
    const admin = new PostgresStore({ url: cluster.urlFor("postgres", { database: "tls" }) });
    await admin.migrateSchema();
    await admin.close();
  });
  afterAll(() => {
    cluster?.stop();
    if (pki) rmSync(pki, { recursive: true, force: true });
  });

  const url = (host: string, ca: string) =>
    `postgres://postgres:pa55word@${host}:${cluster.port}/tls?sslmode=verify-full&sslrootcert=${join(pki, ca)}`;

  it("connects over TLS when the CA and the host name check out", async () => {
    const store = new PostgresStore({ url: url("localhost", "ca.crt") });
    await store.transact("tls", create("tls"), { noun: "env", verb: "create", create: true });
    expect((await store.load("tls")).generation).toBe(1);
    await store.close();
    // The same URL gives the driver a TLS session (the server would also take plain ones).
    const client = new pg.Client({ connectionString: url("localhost", "ca.crt") });
    await client.connect();
    const r = await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    await client.end();
    expect(r.rows).toEqual([{ ssl: true }]);
  });

  it.each([
    ["a certificate from another CA", "localhost", "other-ca.crt", /self[- ]signed|unable to verify|certificate/iu],
    ["a host name the certificate does not name", "127.0.0.1", "ca.crt", /Hostname\/IP does not match|altnames/iu],
  ])("refuses %s, without the password in the error", async (_what, host, ca, words) => {
    const store = new PostgresStore({ url: url(host, ca) });
    const err = await rejects(store.list());
    expect(err.kind).toBe("io");
    expect(err.message).toMatch(words);
    expect(err.message).toContain(`postgres://postgres:***@${host}:${cluster.port}/tls`);
    expect(JSON.stringify(err.toJSON())).not.toContain("pa55word");
    await store.close();
  });
});
