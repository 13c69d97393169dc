import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  lstatSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { expect, onTestFinished } from "vitest";
import { release, stopTracked, track } from "../../../scripts/test-support/leftovers.ts";

export const OP_DIR = resolve(import.meta.dirname, "..");
export const REPO = resolve(OP_DIR, "../..");
export const BIN = join(OP_DIR, "bin", "run.js");

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const st = statSync(join(dir, f));
    if (st.isFile() && st.mtimeMs > newest) newest = st.mtimeMs;
  }
  return newest;
}

/**
 * The spawned `op` runs built `dist/` code. `pnpm test` builds first (GREENTIC_TEST_BUILT=1);
 * otherwise the first test file to get here rebuilds whatever is stale, under a lock directory
 * so that parallel test files neither build twice nor run half-built code.
 */
export function ensureBuilt(): void {
  if (process.env.GREENTIC_TEST_BUILT === "1") return;
  const lock = join(OP_DIR, ".test-build.lock");
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    const manifest = join(OP_DIR, "oclif.manifest.json");
    const built = existsSync(manifest) ? statSync(manifest).mtimeMs : 0;
    const sources = Math.max(
      newestMtime(join(OP_DIR, "src")),
      ...readdirSync(join(REPO, "packages")).map((p) => newestMtime(join(REPO, "packages", p, "src"))),
    );
    if (sources > built) {
      try {
        execFileSync("pnpm", ["-r", "--no-bail", "--filter", "./packages/**", "--filter", "./apps/op", "build"], {
          cwd: REPO,
          stdio: ["ignore", "ignore", "pipe"],
        });
      } catch (err) {
        // A package whose declaration step fails still has its JavaScript built by tsup; the
        // spawned binary only needs that. Fail only when something `op` runs is missing.
        const missing = [
          "packages/operations/dist/index.js",
          "packages/bundle/dist/index.js",
          "apps/op/oclif.manifest.json",
        ].filter((f) => !existsSync(join(REPO, f)));
        if (missing.length > 0) throw err;
      }
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface OpResult {
  status: number;
  stdout: string;
  stderr: string;
  /** Parsed stdout when it is JSON. */
  json?: any;
  /** Parsed stderr when it is a JSON error envelope. */
  errorJson?: any;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeout?: number;
}

function tryJson(text: string): unknown {
  const t = text.trim();
  if (!t.startsWith("{")) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...extra };
  // Never let a developer's own store leak into a test.
  if (extra.GREENTIC_HOME === undefined) delete env.GREENTIC_HOME;
  return env;
}

/** Runs the real `op` binary. */
export function op(args: readonly string[], options: RunOptions = {}): OpResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: options.input ?? "",
    encoding: "utf8",
    cwd: options.cwd ?? REPO,
    timeout: options.timeout ?? 60_000,
    env: childEnv(options.env),
  });
  const out: OpResult = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  const json = tryJson(r.stdout);
  if (json !== undefined) out.json = json;
  const errorJson = tryJson(r.stderr);
  if (errorJson !== undefined) out.errorJson = errorJson;
  return out;
}

/** A temporary directory removed when the current test finishes. */
export function tempDir(prefix = "op-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store root with `op` bound to it. */
export interface Store {
  root: string;
  op(args: readonly string[], options?: RunOptions): OpResult;
  /** Runs `op ... --json` and asserts success; returns `result`. */
  ok(args: readonly string[], options?: RunOptions): any;
  /** Stops local revisions and removes the directory (persistent stores). */
  dispose(): void;
  /** Writes a file next to the store and returns its path. */
  file(name: string, content: string): string;
}

/**
 * A store root in a fresh temporary directory. Inside a test it is removed when the test
 * finishes; pass `persistent` (from beforeAll) and call the returned store's `dispose`.
 */
export function store(options: { persistent?: boolean } = {}): Store {
  const dir = mkdtempSync(join(tmpdir(), "op-store-"));
  // Tracked until disposed: what runs in it is stopped even when the run is interrupted or this
  // worker dies before its afterAll (scripts/test-support/leftovers.ts).
  track({ dir });
  const root = join(dir, "home");
  mkdirSync(root);
  // Inside a test: stopped and removed when it finishes (whatever it deployed included).
  if (!options.persistent)
    onTestFinished(() => {
      stopTracked([{ dir }]);
      release(dir);
    });
  const s: Store = {
    root,
    dispose: () => {
      // Stop whatever the local deployer started, then remove the files.
      if (existsSync(join(root, "local"))) op(["env", "destroy", "local", "--confirm", "--store-root", root]);
      stopTracked([{ dir }]);
      release(dir);
    },
    op: (args, options) => op([...args, "--store-root", root], options),
    ok: (args, options) => {
      const r = s.op([...args, "--json"], options);
      if (r.status !== 0)
        throw new Error(`op ${args.join(" ")} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      expect(r.json?.result, `stdout of op ${args.join(" ")}: ${r.stdout}`).toBeDefined();
      return r.json.result;
    },
    file: (name, content) => {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
  };
  return s;
}

/** SHA-256 over every path, type, mode, link target and file content under `dir`. */
export function digestTree(dir: string): string {
  const h = createHash("sha256");
  if (!existsSync(dir)) return "absent";
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      // Running revisions append to their own runtime logs; those are not store state.
      if (rel.includes("/data/") && rel.endsWith(".log")) continue;
      if (st.isSymbolicLink()) h.update(`L ${rel} ${readlinkSync(p)}\n`);
      else if (st.isDirectory()) {
        h.update(`D ${rel} ${st.mode}\n`);
        walk(p);
      } else {
        h.update(`F ${rel} ${st.mode} ${st.size}\n`);
        h.update(readFileSync(p));
      }
    }
  };
  walk(dir);
  return h.digest("hex");
}

/** One row of a bad-input table. */
export interface BadInput {
  name: string;
  /** Answers file content; `undefined`: the file does not exist; `null`: no --answers at all. */
  answers?: string | null | undefined;
  /** Extra arguments (after the verb). */
  args?: readonly string[];
  /** Runs before the case (e.g. a first call that records an idempotency key); not digested. */
  before?: (s: Store) => void;
  exit: number;
  /** Expected error kind (or any of several). */
  kind: string | readonly string[];
  /** Substrings the error message must contain. The answers file name is always checked when the error is about the input. */
  message?: readonly (string | RegExp)[];
  /** The error's `path` field. */
  path?: string;
  /** Check that the message names the answers file (default: for exit 2). */
  namesFile?: boolean;
}

/**
 * Table-driven bad-input check for one mutating verb: each case runs twice (human and
 * `--json`), asserts the exit code, the error kind and message, that nothing reached stdout,
 * and that the store is byte-for-byte unchanged.
 */
export function checkBadInput(s: Store, verb: readonly string[], c: BadInput, fileName = "answers.yaml"): void {
  c.before?.(s);
  const file =
    c.answers === undefined
      ? join(s.root, "..", `missing-${fileName}`)
      : c.answers === null
        ? ""
        : s.file(fileName, c.answers);
  const args = [...verb, ...(c.answers === null ? [] : ["--answers", file]), ...(c.args ?? [])];
  const before = digestTree(s.root);
  const expectedVerb = verb.length === 1 && verb[0] === "deploy" ? "run" : verb[verb.length - 1];
  for (const json of [false, true]) {
    const r = s.op(json ? [...args, "--json"] : args);
    const label = `${c.name} (${json ? "--json" : "human"}): op ${args.join(" ")}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
    expect(r.status, label).toBe(c.exit);
    expect(r.stdout, label).toBe("");
    const message: string = json ? r.errorJson?.error?.message : r.stderr;
    if (json) {
      expect(r.errorJson?.op, label).toBe(expectedVerb);
      expect(r.errorJson?.noun, label).toBe(verb[0]);
      const kinds = typeof c.kind === "string" ? [c.kind] : c.kind;
      expect(kinds, label).toContain(r.errorJson?.error?.kind);
      if (c.path !== undefined) expect(r.errorJson?.error?.path, label).toBe(c.path);
    } else {
      expect(r.stderr, label).toMatch(/^Error: /m);
    }
    if (c.namesFile ?? (c.exit === 2 && c.answers !== null))
      expect(message, label).toContain(c.answers === undefined ? `missing-${fileName}` : fileName);
    for (const m of c.message ?? []) {
      if (typeof m === "string") expect(message, label).toContain(m);
      else expect(message, label).toMatch(m);
    }
  }
  expect(digestTree(s.root), `${c.name}: the store changed`).toBe(before);
}

/** The cases every mutating verb shares: file problems and payload shape problems. */
export function commonBadInputs(
  validYaml: string,
  opts: { missingField: string; wrongType: [string, string] },
): BadInput[] {
  const lines = validYaml.split("\n");
  return [
    {
      name: "malformed JSON",
      answers: '{"environment_id": "local",',
      exit: 2,
      kind: "answers-parse",
      message: ["malformed JSON"],
    },
    {
      name: "malformed YAML",
      answers: "environment_id: [local\n  nope: :",
      exit: 2,
      kind: "answers-parse",
      message: ["malformed YAML"],
    },
    { name: "empty file", answers: "", exit: 2, kind: "answers-parse", message: ["empty"] },
    { name: "missing file", answers: undefined, exit: 2, kind: "answers-parse", message: ["no such file"] },
    {
      name: "unknown field",
      answers: `${validYaml.trimEnd()}\nsurprise: 1\n`,
      exit: 2,
      kind: "validation",
      message: ["surprise", "unknown field"],
      path: "surprise",
    },
    {
      name: "missing required field",
      answers: lines.filter((l) => !l.startsWith(`${opts.missingField}:`)).join("\n"),
      exit: 2,
      kind: "validation",
      message: [`${opts.missingField}:`],
      path: opts.missingField,
    },
    {
      name: "wrong type",
      answers: lines
        .map((l) => (l.startsWith(`${opts.wrongType[0]}:`) ? `${opts.wrongType[0]}: ${opts.wrongType[1]}` : l))
        .join("\n"),
      exit: 2,
      kind: "validation",
      message: [`${opts.wrongType[0]}:`],
      path: opts.wrongType[0],
    },
  ];
}

/** A valid ULID that names nothing. */
export const UNKNOWN_ULID = "01JB7Z0000000000000000000Z";

/** YAML for a flat payload. */
export function yaml(fields: Record<string, unknown>): string {
  return `${Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join("\n")}\n`;
}

let builtBundle: string | undefined;

/** The fixture bundle `fixtures/bundles/hello` built once per test worker with `op bundles build`. */
export function helloBundle(): string {
  if (builtBundle && existsSync(builtBundle)) return builtBundle;
  const dir = mkdtempSync(join(tmpdir(), "op-bundle-"));
  const out = join(dir, "hello.gtbundle");
  const r = op([
    "bundles",
    "build",
    join(REPO, "fixtures", "bundles", "hello"),
    "--bundle-id",
    "hello",
    "--bundle-version",
    "0.1.0",
    "--out",
    out,
    "--json",
  ]);
  if (r.status !== 0) throw new Error(`bundles build failed: ${r.stderr}`);
  builtBundle = out;
  return out;
}

const variants = new Map<string, string>();

/**
 * The hello fixture with one extra file `variant.txt` holding `variant`, built as `fileName`
 * with manifest id `bundleId` (once per worker): a bundle with its own digest.
 */
export function helloVariant(
  variant: string,
  bundleId = "hello",
  fileName = `${bundleId}-${variant}.gtbundle`,
): string {
  const cacheKey = `${variant}\0${bundleId}\0${fileName}`;
  const cached = variants.get(cacheKey);
  if (cached !== undefined && existsSync(cached)) return cached;
  const dir = mkdtempSync(join(tmpdir(), "op-bundle-"));
  const src = join(dir, "src");
  execFileSync("cp", ["-r", join(REPO, "fixtures", "bundles", "hello"), src]);
  writeFileSync(join(src, "variant.txt"), `${variant}\n`);
  const out = join(dir, fileName);
  const r = op(["bundles", "build", src, "--bundle-id", bundleId, "--bundle-version", "0.1.0", "--out", out, "--json"]);
  if (r.status !== 0) throw new Error(`bundles build failed: ${r.stderr}`);
  variants.set(cacheKey, out);
  return out;
}

/** `op env init` (the local environment with its default packs). */
export function initLocal(s: Store): void {
  s.ok(["env", "init"]);
}

/** env init + `op deploy` of the hello bundle: a running, ready revision with 100% traffic. */
export function deployHello(s: Store): { deployment: string; revision: string; url: string | null } {
  initLocal(s);
  const r = s.ok(["deploy", "--bundle", helloBundle()]);
  return { deployment: r.deployment_id, revision: r.revision_id, url: r.url };
}

/** Stages the hello bundle as a new revision of `deployment` (no process is started). */
export function stageHello(s: Store, deployment: string): string {
  return s.ok(["revisions", "stage", "local", "--deployment", deployment, "--bundle", helloBundle()]).revision
    .revision_id;
}
