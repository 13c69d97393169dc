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

it("--ssh binds the deployer to a VM over SSH; a bad address, a missing or unreadable known_hosts are refused (exit 2), nothing written", {
  timeout: 120_000,
}, () => {
  const { s } = suite.get();
  const spec = s.file(
    "remote.yaml",
    "apiVersion: greentic.ai/v1alpha1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  runtime: {binary: /usr/local/bin/greentic-runtime, publicBind: 0.0.0.0:8080}\n  rollout: {strategy: canary}\n",
  );
  const knownHosts = s.file("vm1.known_hosts", "[vm1.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample\n");
  const badHost = s.op([
    "env",
    "init",
    "--env",
    "edge",
    "--deployer",
    "single-vm",
    "--spec",
    spec,
    "--ssh",
    "root@bad host",
    "--known-hosts",
    knownHosts,
  ]);
  expect(badHost.status).toBe(2);
  expect(badHost.stderr).toContain('ssh "root@bad host": "bad host" is not a host name or address');
  const noPin = s.op([
    "env",
    "init",
    "--env",
    "edge",
    "--deployer",
    "single-vm",
    "--spec",
    spec,
    "--ssh",
    "root@vm1.example.com",
  ]);
  expect(noPin.status).toBe(2);
  expect(noPin.stderr).toContain("--known-hosts: is required with --ssh (the VM's pinned host key)");
  const unreadable = s.op([
    "env",
    "init",
    "--env",
    "edge",
    "--deployer",
    "single-vm",
    "--spec",
    spec,
    "--ssh",
    "root@vm1.example.com",
    "--known-hosts",
    "/nonexistent/vm1.known_hosts",
  ]);
  expect(unreadable.status).toBe(2);
  expect(unreadable.stderr).toContain("--known-hosts: /nonexistent/vm1.known_hosts cannot be read (ENOENT)");
  expect(s.op(["env", "show", "edge"]).status).toBe(4);
  const bound = s.ok([
    "env",
    "init",
    "--env",
    "edge",
    "--deployer",
    "single-vm",
    "--spec",
    spec,
    "--ssh",
    "deployer@vm1.example.com:2222",
    "--known-hosts",
    knownHosts,
  ]);
  expect(bound).toMatchObject({
    environment_id: "edge",
    outcome: "created",
    deployer: "greentic.deployer.single-vm@0.1.0",
  });
});
