import { spawn } from "node:child_process";
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
