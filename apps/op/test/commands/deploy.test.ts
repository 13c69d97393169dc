import { expect, it } from "vitest";
import { helloBundle, initLocal } from "../helpers.js";
import { describeMutating } from "../mutating-suite.js";

const suite = describeMutating({
  verb: ["deploy"],
  setup: (s) => (initLocal(s), { bundle: helloBundle() }),
  valid: (f) => ({ environment_id: "local", bundle_path: f.bundle, bundle_id: "hello", customer_id: "acme" }),
  missingField: "bundle_path",
  wrongType: ["bundle_id", "{}"],
  stale: false,
  extra: (f) => [
    {
      name: "stale precondition",
      answers: `bundle_path: ${f.bundle}\n`,
      args: ["--expected-generation", "9999"],
      exit: 3,
      kind: "precondition-failed",
    },
    {
      name: "bundle file that does not exist",
      answers: "bundle_path: /nonexistent/x.gtbundle\n",
      exit: 2,
      kind: "invalid-argument",
      path: "bundle_path",
      message: ["/nonexistent/x.gtbundle", "does not exist"],
    },
    {
      name: "customer required outside local",
      answers: `environment_id: local2\nbundle_path: ${f.bundle}\n`,
      exit: 2,
      kind: "invalid-argument",
      namesFile: false,
      message: ["customer_id"],
    },
  ],
});

it("deploys, serves the page, and a redeploy keeps the old revision for rollback", async () => {
  const { s, f } = suite.get();
  const first = s.ok(["deploy", "--bundle", f.bundle, "--bundle-id", "hello"]);
  expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  const page = await fetch(first.url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain("Hello");
  const second = s.ok(["deploy", "--bundle", f.bundle, "--bundle-id", "hello"]);
  expect(second.previous_revision_id).toBe(first.revision_id);
  const back = s.ok(["traffic", "rollback", "local", "--deployment", second.deployment_id]);
  expect(back.restored.entries).toEqual([{ revision_id: first.revision_id, weight_bps: 10000 }]);
});

it("human output names the URL and progress goes to stderr", () => {
  const { s, f } = suite.get();
  const r = s.op(["deploy", "--bundle", f.bundle, "--bundle-id", "hello"]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/URL: http/);
  expect(r.stderr).toContain("warming revision");
  expect(r.stdout).not.toContain("warming revision");
});
