import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { formatSshTarget, parseSshTarget, receiveScript, SshConnection, shellQuote } from "./ssh.js";

describe("parseSshTarget", () => {
  it.each([
    ["root@vm1.example.com", { user: "root", host: "vm1.example.com", port: 22 }],
    ["deploy@10.0.0.5:2222", { user: "deploy", host: "10.0.0.5", port: 2222 }],
    ["vm1", { user: undefined, host: "vm1", port: 22 }],
    ["root@[2001:db8::1]:22022", { user: "root", host: "2001:db8::1", port: 22022 }],
  ])("reads %s", (text, target) => {
    expect(parseSshTarget(text)).toEqual(target);
    expect(formatSshTarget(parseSshTarget(text))).toBe(text.replace(/:22$/, ""));
  });

  it.each([
    ["root@", '--host "root@": no host'],
    ["root@vm:0", '--host "root@vm:0": port "0" is not 1-65535'],
    ["root@vm:65536", '--host "root@vm:65536": port "65536" is not 1-65535'],
    ["Root User@vm", '--host "Root User@vm": "Root User" is not a user name'],
    ["root@vm;rm -rf /", '--host "root@vm;rm -rf /": "vm;rm -rf /" is not a host name or address'],
    ["root@-oProxyCommand=x", '--host "root@-oProxyCommand=x": "-oProxyCommand=x" is not a host name or address'],
    ["root@[::1", '--host "root@[::1": unclosed ['],
    ["root@[vm]:22", '--host "root@[vm]:22": vm is not an IPv6 address'],
  ])("refuses %s with exit-2 validation naming the flag", (text, message) => {
    expect(() => parseSshTarget(text)).toThrow(expect.objectContaining({ kind: "validation", message }));
  });
});

describe("shellQuote", () => {
  it("leaves plain words and quotes the rest for the remote shell", () => {
    expect(shellQuote("/var/lib/greentic/uploads/specs/acme.json")).toBe("/var/lib/greentic/uploads/specs/acme.json");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's $(x)")).toBe(`'it'\\''s $(x)'`);
  });
});

describe("receiveScript", () => {
  // The lines both uploads send (a bundle with its digest checked, the spec before a verb), run
  // here by the same POSIX shell the VM's sshd starts.
  const run = (lines: string[], input: string) =>
    spawnSync("sh", ["-c", lines.join("\n")], { input, encoding: "utf8" });
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), "greentic-receive-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  it("puts stdin at the path, making its parents 0755 and the file private (no check: the spec)", () => {
    const dir = scratch();
    const target = join(dir, "uploads/specs/acme.json");
    expect(run(receiveScript(target), '{"a":1}\n').status).toBe(0);
    expect(readFileSync(target, "utf8")).toBe('{"a":1}\n');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "uploads/specs")).mode & 0o777).toBe(0o755);
    expect(readdirSync(join(dir, "uploads/specs"))).toEqual(["acme.json"]);
  });

  it("checks the digest and sets the mode (the bundle); a mismatch exits 65 and leaves nothing", () => {
    const dir = scratch();
    const target = join(dir, "bundles/b.gtbundle");
    const sha256 = createHash("sha256").update("bundle bytes").digest("hex");
    expect(run(receiveScript(target, { sha256, mode: "0644" }), "bundle bytes").status).toBe(0);
    expect(statSync(target).mode & 0o777).toBe(0o644);
    const other = join(dir, "bundles/c.gtbundle");
    const bad = run(receiveScript(other, { sha256, mode: "0644" }), "other bytes");
    expect(bad.status).toBe(65);
    expect(bad.stderr).toBe(
      `digest mismatch: expected sha256:${sha256}, got sha256:${createHash("sha256").update("other bytes").digest("hex")}\n`,
    );
    expect(readdirSync(join(dir, "bundles"))).toEqual(["b.gtbundle"]);
  });
});

describe("SshConnection.controlPath", () => {
  it("names the master by user, host, port, the known_hosts file and its bytes, and the identity", () => {
    const dir = mkdtempSync(join(tmpdir(), "greentic-control-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const pins = join(dir, "known_hosts");
    writeFileSync(pins, "[vm1]:22 ssh-ed25519 AAAAkey1\n");
    const make = (o: Partial<ConstructorParameters<typeof SshConnection>[0]> = {}) =>
      new SshConnection({ target: parseSshTarget("root@vm1"), knownHosts: pins, controlDir: join(dir, "ssh"), ...o })
        .controlPath;
    const first = make();
    expect(first).toMatch(new RegExp(`^${join(dir, "ssh")}/[0-9a-f]{24}$`));
    // The same parameters, another process: the same master.
    expect(make()).toBe(first);
    const others = [
      make({ target: parseSshTarget("deploy@vm1") }),
      make({ target: parseSshTarget("root@vm2") }),
      make({ target: parseSshTarget("root@vm1:2222") }),
      make({ identity: join(dir, "id_ed25519") }),
      make({ knownHosts: join(dir, "missing") }),
    ];
    // The pinned key replaced in the same file: a new master, checked against the new key.
    writeFileSync(pins, "[vm1]:22 ssh-ed25519 AAAAkey2\n");
    others.push(make());
    expect(new Set([first, ...others]).size).toBe(7);
    writeFileSync(pins, "[vm1]:22 ssh-ed25519 AAAAkey1\n");
    expect(make()).toBe(first);
  });
});

describe("SshConnection without a master", () => {
  it("makes its own connection when the socket path would be too long for ssh (a long GREENTIC_HOME)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "greentic-control-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const pins = join(dir, "known_hosts");
    writeFileSync(pins, "");
    const make = (controlDir: string) =>
      new SshConnection({
        target: parseSshTarget("root@127.0.0.1:1"),
        knownHosts: pins,
        controlDir,
        connectTimeoutSeconds: 5,
      });
    const long = join(dir, "h".repeat(100 - dir.length), "ssh");
    expect(make(long).controlPath).toBeUndefined();
    expect(make(join(dir, "ssh")).controlPath).toBeDefined();
    // The real ssh, to a closed port: refused as unreachable, not "ControlPath too long".
    const err = await make(long)
      .check()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({
      kind: "io",
      message: expect.stringMatching(/^root@127\.0\.0\.1:1 is unreachable over SSH: .*Connection refused$/),
    });
  });
});
