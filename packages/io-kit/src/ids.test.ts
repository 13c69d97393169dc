import { describe, expect, it } from "vitest";
import { ENV_ID_MAX_LENGTH, checkEnvId, checkIdentifier, isEnvId, showChar } from "./ids.js";

describe("checkEnvId", () => {
  it.each(["local", "staging-eu.2", "A_b", "x", "a".repeat(ENV_ID_MAX_LENGTH), "trailing."])("accepts %j", (id) => {
    expect(checkEnvId(id)).toBeNull();
    expect(isEnvId(id)).toBe(true);
  });

  it.each([
    ["", "env-id-empty", "environment id is empty"],
    ["a".repeat(129), "env-id-too-long", "environment id is 129 characters long; at most 128 are allowed"],
    [".hidden", "env-id-leading-dot", 'environment id ".hidden" starts with "."'],
    ["..", "env-id-leading-dot", 'environment id ".." starts with "."'],
    [
      "prod@eu",
      "env-id-invalid-char",
      'environment id "prod@eu" contains the forbidden character "@"; only ASCII letters, digits, ".", "_" and "-" are allowed',
    ],
    [
      "a/b",
      "env-id-invalid-char",
      'environment id "a/b" contains the forbidden character "/"; only ASCII letters, digits, ".", "_" and "-" are allowed',
    ],
    [
      "pr\u00e9prod",
      "env-id-invalid-char",
      'environment id "pr\u00e9prod" contains the forbidden character "\u00e9" (U+00E9); only ASCII letters, digits, ".", "_" and "-" are allowed',
    ],
    [
      "a\u202eb",
      "env-id-invalid-char",
      'environment id "a\u202eb" contains the forbidden character "\u202e" (U+202E); only ASCII letters, digits, ".", "_" and "-" are allowed',
    ],
  ])("refuses %j as %s", (id, code, message) => {
    expect(checkEnvId(id)).toEqual({ code, message });
    expect(isEnvId(id)).toBe(false);
  });

  it("refuses non-strings in isEnvId", () => {
    expect(isEnvId(7)).toBe(false);
    expect(isEnvId(undefined)).toBe(false);
  });
});

describe("checkIdentifier", () => {
  it("uses the same charset with its own codes and the caller's words", () => {
    expect(checkIdentifier("hello-1.0", "bundle id")).toBeNull();
    expect(checkIdentifier("../etc", "bundle id")).toEqual({
      code: "id-leading-dot",
      message: 'bundle id "../etc" starts with "."',
    });
    expect(checkIdentifier("a b", "customer id")?.code).toBe("id-invalid-char");
  });
});

describe("showChar", () => {
  it("shows printable ASCII as itself and anything else with its code point", () => {
    expect(showChar("@")).toBe('"@"');
    expect(showChar("\u0000")).toBe('"\\u0000" (U+0000)');
    expect(showChar("\u{1F600}")).toBe('"\u{1F600}" (U+1F600)');
  });
});
