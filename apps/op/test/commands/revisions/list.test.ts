import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BIN, type Store, deployHello, ensureBuilt, stageHello, store } from "../../helpers.js";

// Shaped lists, through revisions list: default columns, --columns, --sort, --filter,
// --no-header and --output.
let s: Store;
let f: { deployment: string; r1: string; r2: string; url: string | null };

beforeAll(() => {
  ensureBuilt();
  s = store({ persistent: true });
  const d = deployHello(s);
  f = { deployment: d.deployment, r1: d.revision, r2: stageHello(s, d.deployment), url: d.url };
});
afterAll(() => s?.dispose());

it("default columns: revision, version, tags, bundle, traffic, lifecycle, live, url", () => {
  const r = s.op(["revisions", "list"]);
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.split("\n");
  expect(lines[0]).toMatch(/^REVISION\s+VERSION\s+TAGS\s+BUNDLE\s+TRAFFIC\s+LIFECYCLE\s+LIVE\s+URL$/);
  expect(lines[1]).toMatch(new RegExp(`^${f.r1}\\s+@1\\s+-\\s+hello\\s+100%\\s+ready\\s+running\\s+${f.url}$`));
  expect(lines[2]).toMatch(new RegExp(`^${f.r2}\\s+@2\\s+-\\s+hello\\s+0%\\s+staged\\s+stopped\\s+-$`));
  expect(lines).toHaveLength(4);
});

it("--columns, --sort, --filter, --no-header and --output csv|json|yaml", () => {
  expect(s.op(["revisions", "list", "--columns", "version,lifecycle", "--sort", "-version"]).stdout).toBe(
    "VERSION  LIFECYCLE\n     @2  staged\n     @1  ready\n",
  );
  expect(s.op(["revisions", "list", "--columns", "version,traffic", "--output", "csv", "--no-header"]).stdout).toBe(
    "@1,100%\n@2,0%\n",
  );
  expect(s.op(["revisions", "list", "--filter", "lifecycle=STAG", "--columns", "revision", "--no-header"]).stdout).toBe(
    `${f.r2}\n`,
  );
  expect(JSON.parse(s.op(["revisions", "list", "-o", "json", "--columns", "version,digest"]).stdout)).toEqual([
    { version: "@1", digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
    { version: "@2", digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
  ]);
  expect(s.op(["revisions", "list", "-o", "yaml", "--columns", "version,lifecycle"]).stdout).toBe(
    '- version: "@1"\n  lifecycle: ready\n- version: "@2"\n  lifecycle: staged\n',
  );
  expect(s.op(["revisions", "list", "--filter", "lifecycle=archived"]).stdout).toBe("(no rows match)\n");
});

it("an unknown column exits 2 naming the columns; --json keeps the whole result", () => {
  const r = s.op(["revisions", "list", "--columns", "version,colour", "--json"]);
  expect(r.status).toBe(2);
  expect(r.errorJson.error).toMatchObject({
    kind: "invalid-argument",
    message:
      '--columns: no column "colour"; the columns are revision, version, tags, bundle, traffic, lifecycle, live, url, deployment, created, digest',
  });
  const j = s.ok(["revisions", "list", "--columns", "version"]);
  expect(j.revisions.map((v: { revision_id: string }) => v.revision_id)).toEqual([f.r1, f.r2]);
  expect(j.traffic_bps).toEqual({ [f.r1]: 10000 });
});

it("control characters in stored strings are escaped in tables, kept under --json", () => {
  s.ok(["config", "set", "--region", "eu\u001b]0;pwned\u0007west"]);
  const human = s.op(["env", "show"]);
  expect(human.stdout).not.toContain("\u001b");
  expect(s.ok(["env", "show"]).environment.host_config.region).toBe("eu\u001b]0;pwned\u0007west");
});

// Last: it warms @2. On a terminal a missing REV is asked for; --no-interactive fails instead.
it("on a terminal, a missing REV is prompted for (script gives op a pty); --no-interactive exits 2", () => {
  const run = (extra: string) =>
    spawnSync("script", ["-qec", `node ${BIN} revisions warm --store-root ${s.root}${extra}`, "/dev/null"], {
      input: "latest\n",
      encoding: "utf8",
      timeout: 120_000,
    });
  const refused = run(" --no-interactive");
  expect(refused.status).toBe(2);
  expect(refused.stdout).toContain("Error: REV: required field is missing (expected string)");
  const asked = run("");
  expect(asked.status, asked.stdout).toBe(0);
  expect(asked.stdout).toContain("REV (The revision");
  expect(asked.stdout).toContain(`Revision ${f.r2} is ready; serving at http://127.0.0.1:`);
});
