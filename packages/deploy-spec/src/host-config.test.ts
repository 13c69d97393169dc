import { describe, expect, it } from "vitest";
import { normalizePublicBaseUrl, parseSocketAddr, resolvedGuiEnabled } from "./host-config.js";
import { checkEnvId } from "./ids.js";

const ONLY = '; only ASCII letters, digits, ".", "_" and "-" are allowed';

describe("checkEnvId", () => {
  it.each(["local", "prod-eu", "a", "staging_2", "x".repeat(128), "prod.eu"])("accepts %j", (id) => {
    expect(checkEnvId(id)).toBeNull();
  });
  it.each([
    ["", "env-id-empty", "environment id is empty"],
    [".", "env-id-leading-dot", 'environment id "." starts with "."'],
    ["..", "env-id-leading-dot", 'environment id ".." starts with "."'],
    [".hidden", "env-id-leading-dot", 'environment id ".hidden" starts with "."'],
    ["a/b", "env-id-invalid-char", `environment id "a/b" contains the forbidden character "/"${ONLY}`],
    ["a\\b", "env-id-invalid-char", `environment id "a\\\\b" contains the forbidden character "\\\\"${ONLY}`],
    ["a:b", "env-id-invalid-char", `environment id "a:b" contains the forbidden character ":"${ONLY}`],
    ["a b", "env-id-invalid-char", `environment id "a b" contains the forbidden character " "${ONLY}`],
    ["a\tb", "env-id-invalid-char", `environment id "a\\tb" contains the forbidden character "\\t" (U+0009)${ONLY}`],
    [
      "a\u0000b",
      "env-id-invalid-char",
      `environment id "a\\u0000b" contains the forbidden character "\\u0000" (U+0000)${ONLY}`,
    ],
    ["prod@eu", "env-id-invalid-char", `environment id "prod@eu" contains the forbidden character "@"${ONLY}`],
    ["préprod", "env-id-invalid-char", `environment id "préprod" contains the forbidden character "é" (U+00E9)${ONLY}`],
    ["a+b", "env-id-invalid-char", `environment id "a+b" contains the forbidden character "+"${ONLY}`],
    [
      "a\u202eb",
      "env-id-invalid-char",
      `environment id "a\u202eb" contains the forbidden character "\u202e" (U+202E)${ONLY}`,
    ],
    ["x".repeat(129), "env-id-too-long", "environment id is 129 characters long; at most 128 are allowed"],
  ])("rejects %j", (id, code, message) => {
    expect(checkEnvId(id)).toEqual({ code, message });
  });
});

describe("normalizePublicBaseUrl", () => {
  it.each([
    ["https://example.com", "https://example.com"],
    ["  https://example.com/  ", "https://example.com"],
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
    ["https://[::1]:8443/", "https://[::1]:8443"],
    ["https://[2001:db8::1]", "https://[2001:db8::1]"],
    ["HTTPS://Example.COM", "HTTPS://Example.COM"],
  ])("accepts %j as %j", (input, value) => {
    expect(normalizePublicBaseUrl(input)).toEqual({ ok: true, value });
  });
  it.each([
    ["", "public_base_url is empty"],
    ["   ", "public_base_url is empty"],
    ["ftp://example.com", 'public_base_url "ftp://example.com" uses scheme "ftp"; only http and https are allowed'],
    ["example.com", 'public_base_url "example.com" must start with http:// or https://'],
    ["https://", 'public_base_url "https://" has no host'],
    ["https://:8080", 'public_base_url "https://:8080" has no host'],
    ["https://exa mple.com", 'public_base_url "https://exa mple.com" contains whitespace'],
    [
      "https://user:pw@example.com",
      'public_base_url "https://user:pw@example.com" must not contain userinfo (user@host)',
    ],
    ["https://example.com/?a=1", 'public_base_url "https://example.com/?a=1" must not have a query'],
    ["https://example.com#top", 'public_base_url "https://example.com#top" must not have a fragment'],
    ["https://example.com/app", 'public_base_url "https://example.com/app" must not have a path (got "/app")'],
    ["https://example.com//", 'public_base_url "https://example.com//" must not have a path (got "//")'],
    ["https://example.com:http", 'public_base_url "https://example.com:http" has a non-numeric port "http"'],
    ["https://example.com:70000", 'public_base_url "https://example.com:70000" has port 70000 outside 1..65535'],
    ["https://[::zz]", 'public_base_url "https://[::zz]" has an invalid IPv6 address "::zz"'],
    ["https://exa_mple.com", 'public_base_url "https://exa_mple.com" has an invalid host "exa_mple.com"'],
  ])("rejects %j", (input, message) => {
    expect(normalizePublicBaseUrl(input)).toEqual({ ok: false, message });
  });
});

describe("parseSocketAddr / resolvedGuiEnabled", () => {
  it("parses Rust SocketAddr forms only", () => {
    expect(parseSocketAddr("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseSocketAddr("[::1]:8080")).toEqual({ host: "::1", port: 8080 });
    expect(parseSocketAddr("localhost:8080")).toBeNull();
    expect(parseSocketAddr("127.0.0.1")).toBeNull();
    expect(parseSocketAddr("127.0.0.1:65536")).toBeNull();
    expect(parseSocketAddr("::1:8080")).toBeNull();
  });
  it("turns the GUI on only for local unless explicit", () => {
    expect(resolvedGuiEnabled({ env_id: "local" })).toBe(true);
    expect(resolvedGuiEnabled({ env_id: "prod" })).toBe(false);
    expect(resolvedGuiEnabled({ env_id: "local", gui_enabled: false })).toBe(false);
    expect(resolvedGuiEnabled({ env_id: "prod", gui_enabled: true })).toBe(true);
  });
});
