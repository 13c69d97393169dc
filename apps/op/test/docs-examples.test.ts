import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { BIN, REPO, ensureBuilt, tempDir } from "./helpers.js";

beforeAll(() => ensureBuilt());

/** Set-up lines the test does itself: the scratch home, the `op` function, the build. */
const SETUP = /^(bash scripts\/setup\.sh|pnpm build|alias op=|export GREENTIC_HOME=)/;

/** The shell blocks of a doc, one command per entry. */
function commands(doc: string): string[] {
  const text = readFileSync(join(REPO, "docs", doc), "utf8");
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split("\n"))
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && !SETUP.test(l));
}

// The quickstart runs as written, in a scratch GREENTIC_HOME, each command exiting 0.
it("docs/quickstart.md: every command runs and exits 0", () => {
  const dir = tempDir("op-docs-");
  const lines = commands("quickstart.md");
  expect(lines.length).toBeGreaterThan(10);
  // Each line runs on its own; its exit code is printed so that a failure names the line.
  const script = [
    `op() { node ${JSON.stringify(BIN)} "$@"; }`,
    ...lines.map((l) => {
      const line = l.replaceAll("/tmp/", `${dir}/`);
      return `${line}\nrc=$?; echo "EXIT $rc: ${line.replaceAll('"', '\\"').replaceAll("$", "\\$")}" >&2; [ $rc -eq 0 ] || exit $rc`;
    }),
  ].join("\n");
  const r = spawnSync("bash", ["-c", script], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, GREENTIC_HOME: join(dir, "home"), NO_COLOR: "1", GREENTIC_ENV: "" },
  });
  const ran = r.stderr.split("\n").filter((l) => l.startsWith("EXIT "));
  expect(r.status, `stderr:\n${r.stderr}\nstdout:\n${r.stdout}`).toBe(0);
  expect(ran).toHaveLength(lines.length);
  expect(ran.every((l) => l.startsWith("EXIT 0: "))).toBe(true);
  // The canary really split the traffic 90/10 before the rollback restored 100%.
  expect(r.stdout).toMatch(/@2\s+canary\s+10%\s+ready/);
  expect(r.stdout).toContain("Hello");
}, 600_000);
