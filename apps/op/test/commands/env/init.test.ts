import { expect, it } from "vitest";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["env", "init"],
  setup: (s) => (s.ok(["env", "init"]), {}),
  valid: () => ({ environment_id: "local", idempotency_key: "init-1" }),
  wrongType: ["environment_id", "42"],
  unknownEnv: false,
  stale: false,
  extra: () => [
    {
      name: "bad public url",
      answers: "environment_id: fresh\npublic_base_url: not a url\n",
      exit: 2,
      kind: "validation",
      path: "public_base_url",
    },
    {
      name: "--deployer single-vm without a spec",
      answers: "environment_id: prod\ndeployer: single-vm\n",
      exit: 2,
      kind: "validation",
      path: "spec_path",
    },
    {
      name: "a spec that cannot be read",
      answers: "environment_id: prod\ndeployer: single-vm\nspec_path: /nonexistent/deployment.yaml\n",
      exit: 2,
      kind: "invalid-argument",
      path: "spec_path",
      namesFile: false,
      message: ["/nonexistent/deployment.yaml", "cannot be read"],
    },
    {
      name: "stale precondition on an existing environment that needs healing",
      answers: null,
      args: ["local", "--expected-generation", "9999"],
      exit: 3,
      kind: "precondition-failed",
      namesFile: false,
    },
  ],
});

it("is idempotent: a second init changes nothing", () => {
  const { s } = suite.get();
  const r = s.ok(["env", "init"]);
  expect(r.outcome).toBe("untouched");
  const h = s.op(["env", "init"]);
  expect(h.stdout).toContain("already initialised");
});

it("--deployer single-vm --spec binds the environment's deployer to the VM", () => {
  const { s } = suite.get();
  const spec = s.file(
    "deployment.yaml",
    "apiVersion: greentic.ai/v1alpha1\nkind: Deployment\nmetadata: {name: acme}\nspec:\n  runtime: {binary: /opt/greentic/runtime.js, publicBind: 0.0.0.0:8080}\n  rollout: {strategy: canary}\n",
  );
  const r = s.ok(["env", "init", "--env", "prod", "--deployer", "single-vm", "--spec", spec]);
  expect(r).toMatchObject({
    environment_id: "prod",
    outcome: "created",
    deployer: "greentic.deployer.single-vm@0.1.0",
  });
  const packs = s.ok(["env-packs", "list", "prod"]);
  expect(packs.packs.find((p: { slot: string }) => p.slot === "deployer")).toMatchObject({
    kind: "greentic.deployer.single-vm@0.1.0",
  });
  const bad = s.file(
    "bad.yaml",
    "apiVersion: greentic.ai/v1alpha1\nkind: Deployment\nmetadata: {name: acme}\nspec: {runtime: {}}\n",
  );
  const refused = s.op(["env", "init", "staging", "--deployer", "single-vm", "--spec", bad]);
  expect(refused.status).toBe(2);
  expect(refused.stderr).toContain(`${bad}: spec.runtime: set binary`);
  expect(s.op(["env", "show", "staging"]).status).toBe(4);
});
