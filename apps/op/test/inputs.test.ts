import { beforeAll, describe, expect, it } from "vitest";
import { FIELD_INPUTS, LIBRARY_WORDS } from "../src/lib/inputs.js";
import { ensureBuilt, store } from "./helpers.js";

beforeAll(() => ensureBuilt());

/** The command line of an answers key: `deploy run` is `op deploy`. */
function command(key: string): string[] {
  return key === "deploy run" ? ["deploy"] : key.split(" ");
}

/** Bad values for flags, so that each flag's own validation message is seen too. */
const BAD_VALUES: Record<string, string> = {
  "public-url": "ftp://x",
  "listen-addr": "nowhere",
  slot: "kitchen",
  kind: "not a descriptor",
  deployment: "nope",
  bundle: "/nonexistent/x.gtbundle",
  "revision-id": "r1",
  "bundle-id": "",
  "customer-id": "",
  "idempotency-key": "",
  "updated-by": "",
  name: "",
  env: "../x",
};

// The acceptance check of "errors in the user's words": no message of a command-line run names
// an answers field that has a flag or argument in FIELD_INPUTS, nor a library parameter.
describe("errors name flags, not payload fields", () => {
  const cases = Object.entries(FIELD_INPUTS).flatMap(([key, fields]) => {
    const flags = Object.values(fields).flatMap((f) =>
      f.flag !== undefined && BAD_VALUES[f.flag] !== undefined ? [[`--${f.flag}`, BAD_VALUES[f.flag]!]] : [],
    );
    return [{ key, args: [] as string[] }, ...flags.map((args) => ({ key, args }))];
  });

  it.each(cases.map((c) => [`${c.key} ${c.args.join(" ")}`.trim(), c] as const))("%s", (_name, c) => {
    const s = store();
    s.ok(["env", "init"]);
    const r = s.op([...command(c.key), ...c.args, "--json"]);
    // With nothing given these change nothing in the (default) local environment: no error to read.
    if (c.args.length === 0 && ["env update", "env init", "config set", "revisions prune"].includes(c.key)) {
      expect(r.status, r.stderr).toBe(0);
      return;
    }
    expect(r.status, r.stderr).toBeGreaterThan(1);
    const error = r.errorJson?.error;
    expect(error, r.stderr).toBeDefined();
    // Code spans are commands to type (`op revisions tag --help`), where a word may be a verb.
    const text = JSON.stringify({
      message: error.message,
      hint: error.hint,
      path: error.path,
      issues: error.issues,
    }).replace(/`[^`]*`/g, "`…`");
    for (const field of Object.keys(FIELD_INPUTS[c.key]!)) {
      expect(text, `${field} in ${text}`).not.toMatch(new RegExp(`(?<![\\w.-])${field}(?![\\w-])`));
    }
    for (const word of Object.keys(LIBRARY_WORDS)) expect(text).not.toContain(word);
  });

  it("library parameters are named by their flags: secrets get without --reveal", () => {
    const s = store();
    s.ok(["env", "init"]);
    const r = s.op(["secrets", "get", "db/password", "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error.hint).toBe("pass --reveal");
  });
});
