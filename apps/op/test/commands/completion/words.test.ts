import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Store, deployHello, ensureBuilt, op, store } from "../../helpers.js";

// Shell completion: the words the bash script offers, through `op completion words`.
let s: Store;
let f: { deployment: string; revision: string };
let home: string;

beforeAll(() => {
  ensureBuilt();
  s = store({ persistent: true });
  f = deployHello(s);
  home = join(s.root, "..", "ghome");
});
afterAll(() => s?.dispose());

const words = (index: number, ...typed: string[]) => {
  // --store-root before "--": everything after it is the command line being completed.
  const r = op(["completion", "words", "--store-root", s.root, "--index", String(index), "--", ...typed], {
    env: { GREENTIC_HOME: home },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter((w) => w !== "");
};

it("completes commands, flags, flag values, environments, deployments and revision references", () => {
  expect(words(1, "tra")).toEqual(["traffic"]);
  expect(words(2, "revisions", "w")).toEqual(["warm"]);
  expect(words(3, "revisions", "list", "--dep")).toEqual(["--deployment"]);
  expect(words(4, "revisions", "list", "--deployment", "")).toEqual([f.deployment, "hello"]);
  expect(words(4, "revisions", "list", "--output", "")).toEqual(["csv", "json", "table", "yaml"]);
  // ENV may come first, so both environments and revisions are offered.
  expect(words(3, "revisions", "warm", "l")).toEqual(["local", "latest"]);
  expect(words(4, "revisions", "show", "local", "@")).toEqual(["@1"]);
  expect(words(3, "traffic", "set", "st")).toEqual(["stable="]);
  expect(words(3, "env", "show", "")).toEqual(["local"]);
  // Cached under GREENTIC_HOME, not ~/.cache.
  expect(readdirSync(join(home, "cache", "completion"))).toHaveLength(1);
  expect(existsSync(join(home, "environments"))).toBe(false);
});

it("completion script bash prints a script that calls op completion words", () => {
  const r = op(["completion", "script", "bash"]);
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('op completion words --index "$COMP_CWORD" -- "${COMP_WORDS[@]:1}"');
  expect(r.stdout).toContain("complete -o default -F _op_complete op");
});
