import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BIN, type Store, deployHello, ensureBuilt, op, store } from "../../helpers.js";

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
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the bash script expands it, not JavaScript
  expect(r.stdout).toContain('op completion words --index "$COMP_CWORD" -- "${COMP_WORDS[@]:1}"');
  expect(r.stdout).toContain("complete -o default -F _op_complete op");
});

it("completion script zsh loads in zsh (compinit), registers _op for op and offers the same words", () => {
  // zsh is installed by scripts/setup.sh. compadd only works inside a completion widget, so it is
  // replaced by a function printing its candidates; everything else is zsh's own.
  const zsh = spawnSync("zsh", ["--version"], { encoding: "utf8" });
  expect(zsh.status, "zsh is not installed (scripts/setup.sh installs it)").toBe(0);
  const bin = join(s.root, "..", "bin");
  mkdirSync(bin, { recursive: true });
  // `op` on PATH, bound to this test's store.
  writeFileSync(
    join(bin, "op"),
    `#!/bin/sh\nif [ "$1" = completion ] && [ "$2" = words ]; then shift 2; exec "${process.execPath}" "${BIN}" completion words --store-root "${s.root}" "$@"; fi\nexec "${process.execPath}" "${BIN}" "$@"\n`,
    { mode: 0o755 },
  );
  const script = [
    "autoload -Uz compinit && compinit -u -D",
    'eval "$(op completion script zsh)"',
    'print -r -- "registered=$_comps[op]"',
    'compadd() { local s=" "; [[ $1 == -S ]] && { s=$2; shift 2; }; shift; for w in "$@"; do print -r -- "[$w$s]"; done; }',
    "words=(op revisions warm l); CURRENT=4; _op",
    "words=(op traffic set st); CURRENT=4; _op",
    "words=(op tra); CURRENT=2; _op",
  ].join("\n");
  const r = spawnSync("zsh", ["-f", "-c", script], {
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, GREENTIC_HOME: home, HOME: join(s.root, "..") },
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toBe("registered=_op\n[local ]\n[latest ]\n[stable=]\n[traffic ]\n");
});
