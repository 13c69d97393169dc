import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { BIN, REPO, ensureBuilt, helloBundle, initLocal, store } from "../helpers.js";

function freshLocal() {
  ensureBuilt();
  const s = store({ persistent: true });
  onTestFinished(() => s.dispose());
  initLocal(s);
  return s;
}

it("op logs -f shows a request made after it started", async () => {
  const s = freshLocal();
  const d = s.ok(["deploy", "--bundle", helloBundle()]);
  const child = spawn(process.execPath, [BIN, "logs", "local", "-f", "-n", "1", "--json", "--store-root", s.root], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  onTestFinished(() => void child.kill("SIGKILL"));
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  // Wait until it printed the tail, i.e. it follows from here on.
  for (let i = 0; i < 100 && out === ""; i++) await new Promise((r) => setTimeout(r, 100));
  const marker = `/marker-${Date.now()}`;
  expect((await fetch(`${d.environment_url}${marker.slice(1)}`)).status).toBe(404);
  let line: any;
  for (let i = 0; i < 50 && line === undefined; i++) {
    await new Promise((r) => setTimeout(r, 100));
    line = out
      .split("\n")
      .filter((l) => l.includes(marker))
      .map((l) => JSON.parse(l))[0];
  }
  expect(line).toMatchObject({ source: d.revision_id });
  expect(JSON.parse(line.line)).toMatchObject({ msg: "request", method: "GET", path: marker, status: 404 });
  child.kill("SIGINT");
  const code = await new Promise((r) => child.on("exit", (c) => r(c)));
  expect(code).toBe(0);
}, 120_000);

it("op logs: bad --since and an unknown revision are refused", () => {
  const s = freshLocal();
  s.ok(["deploy", "--bundle", helloBundle()]);
  const since = s.op(["logs", "local", "--since", "soon", "--json"]);
  expect(since.status).toBe(2);
  expect(since.errorJson.error).toMatchObject({ kind: "invalid-argument", path: "since" });
  const unknown = s.op(["logs", "local", "01JB7Z0000000000000000000Z", "--json"]);
  expect(unknown.status).toBe(4);
  expect(unknown.errorJson.error.message).toContain("01JB7Z0000000000000000000Z");
  const router = s.ok(["logs", "local", "--router", "-n", "5"]);
  expect(router.sources.map((x: any) => x.source)).toEqual(["router"]);
  expect(router.lines.length).toBeLessThanOrEqual(5);
}, 120_000);

it("revision logs rotate at the size cap, and op logs reads on across the rotation", async () => {
  ensureBuilt();
  // A small cap (the default is 10 MiB), given to the router the first warm starts.
  const env = { GREENTIC_LOCAL_LOG_ROTATE_BYTES: "16384" };
  const s = store({ persistent: true });
  onTestFinished(() => s.dispose());
  initLocal(s);
  const d = s.ok(["deploy", "--bundle", helloBundle()], { env });
  const log = s.ok(["logs", "local", d.revision_id, "-n", "1", "--json"], { env }).sources[0].file as string;
  // Numbered requests until the router has rotated the log (it checks every 2 s).
  let n = 0;
  while (!existsSync(`${log}.1`) && n < 2_000) {
    n += 1;
    await (await fetch(`${d.environment_url}rot-${n}`)).arrayBuffer();
    if (n % 50 === 0) await new Promise((r) => setTimeout(r, 100));
  }
  expect(existsSync(`${log}.1`)).toBe(true);
  expect(statSync(`${log}.1`).size).toBeGreaterThan(16_384);
  expect(statSync(log).size).toBeLessThan(statSync(`${log}.1`).size);
  // Ten more after the rotation: they are in the new file, the earlier ones in .1.
  for (let i = 1; i <= 10; i++) await (await fetch(`${d.environment_url}rot-${n + i}`)).arrayBuffer();
  // The runtime writes its line after the answer: wait for the last one.
  for (let i = 0; i < 100 && !readFileSync(log, "utf8").includes(`"path":"/rot-${n + 10}"`); i++)
    await new Promise((r) => setTimeout(r, 50));
  const paths = (r: any) =>
    r.lines.map((l: any) => (l.line.startsWith("{") ? JSON.parse(l.line).path : undefined)).filter(Boolean);
  const shown = paths(s.ok(["logs", "local", d.revision_id, "-n", "40", "--json"], { env }));
  expect(shown).toHaveLength(40);
  // The 40 newest request lines, in order, spanning the rotation: 30 from .1 and the 10 after it.
  expect(shown).toEqual(Array.from({ length: 40 }, (_, i) => `/rot-${n - 29 + i}`));
  expect(readFileSync(`${log}.1`, "utf8")).toContain(`"path":"/rot-${n - 29}"`);
  expect(readFileSync(log, "utf8")).toContain(`"path":"/rot-${n + 10}"`);
  // The router's log is under the same cap: nothing in the data area grew without bound.
  expect(statSync(join(dirname(dirname(dirname(log))), "router", "router.log")).size).toBeLessThan(16_384 * 2);
}, 180_000);
