import { describe, expect, it } from "vitest";
import { formatHostPort, isLoopback, parseHostPort } from "./net.js";

describe("isLoopback", () => {
  it.each([
    "127.0.0.1",
    "127.0.0.2",
    "127.10.0.7",
    "127.255.255.254",
    "::1",
    "0:0:0:0:0:0:0:1",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "::0:1",
    "::ffff:127.0.0.1",
    "::FFFF:127.1.2.3",
    "::ffff:7f00:1",
    "0:0:0:0:0:ffff:127.0.0.2",
  ])("accepts %s", (address) => {
    expect(isLoopback(address)).toBe(true);
  });

  it.each([
    "localhost",
    "LOCALHOST",
    "0.0.0.0",
    "::",
    "::0",
    "128.0.0.1",
    "126.255.255.255",
    "10.0.0.1",
    "127.1",
    "127.000.000.001",
    "127.0.0.256",
    "::2",
    "1::1",
    "::ffff:10.0.0.1",
    "::ffff:8000:1",
    "::127.0.0.1",
    "::1%lo",
    "fe80::1",
    "[::1]",
    "",
    "127.0.0.1.example.com",
  ])("refuses %s", (address) => {
    expect(isLoopback(address)).toBe(false);
  });
});

describe("parseHostPort", () => {
  it.each([
    ["127.0.0.1:8433", { host: "127.0.0.1", port: 8433 }],
    ["[::1]:0", { host: "::1", port: 0 }],
    ["localhost:65535", { host: "localhost", port: 65535 }],
    ["[::ffff:127.0.0.1]:80", { host: "::ffff:127.0.0.1", port: 80 }],
    ["example.com:443", { host: "example.com", port: 443 }],
  ])("parses %s", (value, expected) => {
    expect(parseHostPort(value)).toEqual(expected);
  });

  it.each([
    "8433",
    "127.0.0.1",
    "127.0.0.1:",
    "127.0.0.1:65536",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "127.0.0.1:84a",
    "::1:8433",
    "[::1:8433",
    "[nothex]:1",
    "[127.0.0.1]:80",
    "host name:80",
    ":80",
  ])("refuses %s", (value) => {
    expect(parseHostPort(value)).toBeNull();
  });

  it("formats IPv6 hosts in brackets, round-tripping the parse", () => {
    expect(formatHostPort("::1", 8433)).toBe("[::1]:8433");
    expect(formatHostPort("127.0.0.1", 0)).toBe("127.0.0.1:0");
    const parsed = parseHostPort("[::1]:8433")!;
    expect(formatHostPort(parsed.host, parsed.port)).toBe("[::1]:8433");
  });
});
