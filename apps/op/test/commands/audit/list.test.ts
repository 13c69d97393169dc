import { afterAll, beforeAll, expect, it } from "vitest";
import { type Store, deployHello, ensureBuilt, store } from "../../helpers.js";

let s: Store;
let f: { deployment: string; revision: string };

beforeAll(() => {
  ensureBuilt();
  s = store({ persistent: true });
  f = deployHello(s);
});
afterAll(() => s?.dispose());

it("the target column shows the weights of traffic events", () => {
  const r = s.op(["audit", "list", "--filter", "noun=traffic", "--columns", "verb,target", "--no-header"]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toBe(`set   ${f.deployment.slice(0, 10)} ${f.revision.slice(0, 10)}=100%\n`);
});

it("--since takes durations, today, yesterday, dates and RFC 3339 times; anything else exits 2", () => {
  const all = s.ok(["audit", "list"]).events.length;
  expect(all).toBeGreaterThan(3);
  for (const since of ["1h", "90m", "yesterday", "today", "2026-01-01", "2026-01-01T00:00:00Z"])
    expect(s.ok(["audit", "list", "--since", since]).events.length, since).toBe(all);
  expect(s.ok(["audit", "list", "--since", "2999-01-01"]).events).toEqual([]);
  const bad = s.op(["audit", "list", "--since", "last tuesday", "--json"]);
  expect(bad.status).toBe(2);
  expect(bad.errorJson.error).toEqual({
    kind: "invalid-argument",
    message: 'since "last tuesday" is not a time',
    path: "since",
    hint: "give a duration ago (30m, 1h, 2d), today, yesterday, a date (2026-07-01) or an RFC 3339 time",
  });
});
