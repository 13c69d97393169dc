import { describe, expect, it } from "vitest";
import { formatSshTarget, parseSshTarget, shellQuote } from "./ssh.js";

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
