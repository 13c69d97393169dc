import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { referenceAuditLine } from "../../../../scripts/test-support/unbound-routes.ts";
import { digestTree, helloBundle, helloVariant, initLocal, store, tempDir } from "../helpers.js";
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
      name: "--traffic that does not parse",
      answers: `bundle_path: ${f.bundle}\n`,
      args: ["--traffic", "lots"],
      exit: 2,
      kind: "invalid-argument",
      namesFile: false,
      message: ["--traffic lots"],
    },
    {
      name: "--traffic 0",
      answers: `bundle_path: ${f.bundle}\n`,
      args: ["--traffic", "0"],
      exit: 2,
      kind: "invalid-argument",
      namesFile: false,
      message: ["--traffic 0", "must take some traffic"],
    },
    {
      name: "--traffic on a first deploy: no revision to keep the rest",
      answers: `bundle_path: ${f.bundle}\nbundle_id: hello\n`,
      args: ["--traffic", "1"],
      exit: 3,
      kind: "precondition-failed",
      namesFile: false,
      message: ["--traffic 1%", "no revision taking traffic", "other 99%"],
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
  const second = s.ok(["deploy", "--bundle", helloVariant("v2"), "--bundle-id", "hello"]);
  expect(second.reused_revision).toBe(false);
  expect(second.previous_revision_id).toBe(first.revision_id);
  const back = s.ok(["traffic", "rollback", "local", "--deployment", second.deployment_id]);
  expect(back.restored.entries).toEqual([{ revision_id: first.revision_id, weight_bps: 10000 }]);
}, 120_000);

it("human output names the URL and progress goes to stderr", () => {
  const { s, f } = suite.get();
  const r = s.op(["deploy", "--bundle", f.bundle, "--bundle-id", "hello"]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/URL: http/);
  expect(r.stderr).toContain("warming revision");
  expect(r.stdout).not.toContain("warming revision");
}, 120_000);

/** A fresh store with the local environment, whose revisions are stopped when the test ends. */
function freshLocal() {
  const s = store({ persistent: true });
  onTestFinished(() => s.dispose());
  initLocal(s);
  return s;
}

it("takes the bundle id from the manifest, not the file name, and the URL keeps serving", async () => {
  const s = freshLocal();
  const first = s.ok(["deploy", "--bundle", helloBundle()]);
  // The quickstart's second step: a file named hello-v2.gtbundle whose manifest says `hello`.
  const v2 = helloVariant("v2", "hello", "hello-v2.gtbundle");
  const second = s.ok(["deploy", "--bundle", v2]);
  expect(second.bundle_id).toBe("hello");
  expect(second.created_deployment).toBe(false);
  expect(second.deployment_id).toBe(first.deployment_id);
  expect(second.previous_revision_id).toBe(first.revision_id);
  expect(s.ok(["bundles", "list", "local"]).bundles.map((b: any) => b.bundle_id)).toEqual(["hello"]);
  const page = await fetch(second.environment_url);
  expect(page.status).toBe(200);
  expect(page.headers.get("x-greentic-revision")).toBe(second.revision_id);
  expect(await (await fetch(`${second.environment_url}variant.txt`)).text()).toBe("v2\n");
}, 120_000);

it("refuses a --bundle-id that contradicts the manifest, naming both, and changes nothing", () => {
  const s = freshLocal();
  const before = digestTree(s.root);
  const r = s.op(["deploy", "--bundle", helloBundle(), "--bundle-id", "shop", "--json"]);
  expect(r.status, r.stderr).toBe(2);
  expect(r.errorJson.error.kind).toBe("invalid-argument");
  // Given on the command line, so named by its flag.
  expect(r.errorJson.error.path).toBe("--bundle-id");
  expect(r.errorJson.error.message).toContain('--bundle-id "shop" does not match');
  expect(r.errorJson.error.message).toContain('names "hello"');
  expect(r.errorJson.error.message).toContain(helloBundle());
  expect(digestTree(s.root)).toBe(before);
}, 120_000);

/** The status of a GET on a fresh connection (no keep-alive socket reused across op calls). */
const statusOf = (url: string) =>
  new Promise<number>((resolve, reject) =>
    get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject),
  );

it("a second bundle beside a served one needs --new-deployment", async () => {
  const s = freshLocal();
  const first = s.ok(["deploy", "--bundle", helloBundle()]);
  const shop = helloVariant("shop", "shop");
  const before = digestTree(s.root);
  const r = s.op(["deploy", "--bundle", shop, "--json"]);
  expect(r.status, r.stderr).toBe(3);
  expect(r.errorJson.error.kind).toBe("conflict");
  expect(r.errorJson.error.message).toContain(
    `environment local already serves hello (customer local-dev, deployment ${first.deployment_id})`,
  );
  expect(r.errorJson.error.message).toContain("bundle shop");
  expect(r.errorJson.error.hint).toContain("--new-deployment");
  expect(digestTree(s.root)).toBe(before);
  // --new-deployment with no binding beside an unbound served deployment: both would claim
  // every request (421 at the URL), so it is refused before anything is written.
  const unbound = s.op(["deploy", "--bundle", shop, "--new-deployment", "--json"]);
  expect(unbound.status, unbound.stderr).toBe(3);
  expect(unbound.errorJson.error).toEqual({
    kind: "conflict",
    message: `deploying bundle shop for customer local-dev with no route binding would collide with deployment ${first.deployment_id} (bundle hello), which environment local serves with no route binding: both would claim every request`,
    path: "--host/--path-prefix",
    hint: `give the new deployment a route binding (op deploy --bundle ${shop} --new-deployment --host HOST or --path-prefix /PREFIX), or bind deployment ${first.deployment_id} first with \`op bundles update\``,
    details: {
      code: "route-collision",
      bundle_id: "shop",
      customer_id: "local-dev",
      other_deployment_id: first.deployment_id,
      host: null,
      path_prefix: "/",
    },
  });
  expect(digestTree(s.root)).toBe(before);
  const added = s.ok(["deploy", "--bundle", shop, "--new-deployment", "--path-prefix", "/shop"]);
  expect(added.created_deployment).toBe(true);
  expect(added.bundle_id).toBe("shop");
  expect(
    s
      .ok(["bundles", "list", "local"])
      .bundles.map((b: any) => b.bundle_id)
      .sort(),
  ).toEqual(["hello", "shop"]);
  expect(s.op(["env", "doctor", "local", "--no-preflight"]).status).toBe(0);

  // Removing shop's binding would leave two served deployments claiming every request: refused
  // when written (exit 3), naming both, the field and its value, and nothing changes.
  const rebind = (name: string, prefixes: string) =>
    s.file(
      name,
      `environment_id: local\ndeployment_id: ${added.deployment_id}\nroute_binding:\n  hosts: []\n  path_prefixes: ${prefixes}\n`,
    );
  const collision = (mine: string, mineBundle: string, other: string, otherBundle: string) => ({
    kind: "conflict",
    message: `deployment ${mine} (bundle ${mineBundle}) and deployment ${other} (bundle ${otherBundle}) would both have traffic and both claim any host and path prefix / (\`route_binding\` {"hosts":[],"path_prefixes":[]} each): the environment URL could only answer 421 to those requests`,
    path: "route_binding",
    hint: `give deployment ${mine} (or ${other}) a host or path prefix of its own first: \`op bundles update local --answers FILE\` with FILE holding \`deployment_id: ${mine}\` and \`route_binding: {hosts: [], path_prefixes: [/PREFIX]}\` (or \`hosts: [HOST]\`)`,
    details: {
      code: "route-collision",
      deployment_id: mine,
      other_deployment_id: other,
      host: null,
      path_prefix: "/",
    },
  });
  const served = digestTree(s.root);
  const unbind = s.op(["bundles", "update", "--answers", rebind("unbind.yaml", "[]"), "--json"]);
  expect(unbind.status, unbind.stderr).toBe(3);
  expect(unbind.errorJson.error).toEqual(collision(added.deployment_id, "shop", first.deployment_id, "hello"));
  expect(digestTree(s.root)).toBe(served);
  // A third bundle added by hand (no binding, no traffic yet: allowed), then given traffic.
  const other = helloVariant("other", "other");
  const otherId = s.ok(["bundles", "add", "local", "--bundle-id", "other"]).deployment.deployment_id;
  const withOther = digestTree(s.root);
  // By op deploy: refused before anything is staged or started.
  const deployOther = s.op(["deploy", "--bundle", other, "--json"]);
  expect(deployOther.status, deployOther.stderr).toBe(3);
  expect(deployOther.errorJson.error).toEqual({
    kind: "conflict",
    message: `deploying bundle other for customer local-dev to deployment ${otherId} with no route binding would collide with deployment ${first.deployment_id} (bundle hello), which environment local serves with no route binding: both would claim every request`,
    path: "--host/--path-prefix",
    hint: `give deployment ${otherId} a route binding (op deploy --bundle ${other} --host HOST or --path-prefix /PREFIX), or bind deployment ${first.deployment_id} first with \`op bundles update\``,
    details: {
      code: "route-collision",
      bundle_id: "other",
      customer_id: "local-dev",
      deployment_id: otherId,
      other_deployment_id: first.deployment_id,
      host: null,
      path_prefix: "/",
    },
  });
  expect(digestTree(s.root)).toBe(withOther);
  // By op traffic set on a revision staged and warmed by hand.
  const staged = s.ok([
    "revisions",
    "stage",
    "--answers",
    s.file("stage.yaml", `environment_id: local\ndeployment_id: ${otherId}\nbundle_path: ${other}\n`),
  ]);
  s.ok(["revisions", "warm", "local", staged.revision.revision_id]);
  const warmed = digestTree(s.root);
  const set = s.op([
    "traffic",
    "set",
    "local",
    `${staged.revision.revision_id}=100`,
    "--deployment",
    otherId,
    "--idempotency-key",
    "other-1",
    "--json",
  ]);
  expect(set.status, set.stderr).toBe(3);
  expect(set.errorJson.error).toEqual(collision(otherId, "other", first.deployment_id, "hello"));
  expect(digestTree(s.root)).toBe(warmed);
  expect(await statusOf(first.environment_url)).toBe(200);

  // The state the store refuses to write, as the Rust reference (which shares the store and does
  // not check bindings) or an older op leaves it: environment.json rewritten beside op's last
  // commit, with the reference's unchained audit line. Status and doctor report it, with a way out.
  const dir = join(s.root, "local");
  const doc = JSON.parse(readFileSync(join(dir, "environment.json"), "utf8"));
  doc.bundles.find((b: any) => b.deployment_id === added.deployment_id).route_binding.path_prefixes = [];
  writeFileSync(join(dir, "environment.json"), `${JSON.stringify(doc, null, 2)}\n`);
  appendFileSync(
    join(dir, "audit", "events.jsonl"),
    referenceAuditLine("local", "bundles", "update", { deployment_id: added.deployment_id }),
  );
  const problem = `Deployments ${[first, added]
    .map((d) => d.deployment_id)
    .sort()
    .map((id) => `${id} (bundle ${id === first.deployment_id ? "hello" : "shop"})`)
    .join(
      " and ",
    )} claim the same requests (any host, path /): the environment URL answers 421 to them. Give one a route binding with \`op bundles update\`.`;
  const st = s.ok(["status", "local"]);
  expect(st.healthy).toBe(false);
  expect(st.problems).toEqual([problem]);
  const doctor = s.op(["env", "doctor", "local", "--no-preflight"]);
  expect(doctor.status).toBe(1);
  expect(doctor.stdout).toContain(`  ${problem}\n`);
  // Binding one of them again is the way back.
  s.ok(["bundles", "update", "--answers", rebind("rebind.yaml", "[/shop]")]);
  expect(await statusOf(first.environment_url)).toBe(200);
  // /shop is routed to shop's revision again (its bundle has no such page: 404 from it).
  const shopPage = await fetch(`${first.environment_url}shop/`);
  expect([shopPage.status, shopPage.headers.get("x-greentic-revision")]).toEqual([404, added.revision_id]);
  const healthy = s.op(["env", "doctor", "local", "--no-preflight"]);
  expect(healthy.status, healthy.stdout).toBe(0);
}, 240_000);

it("a corrupt bundle changes nothing and the error names the user's file", () => {
  const s = freshLocal();
  s.ok(["deploy", "--bundle", helloBundle()]);
  const dir = tempDir();
  const truncated = join(dir, "broken.gtbundle");
  copyFileSync(helloBundle(), truncated);
  writeFileSync(truncated, Buffer.from("not a squashfs image at all"), { flag: "r+" });
  const listed = s.ok(["bundles", "list", "local"]);
  const before = digestTree(s.root);
  for (const bundle of [truncated, helloVariant("corrupt", "fresh")]) {
    const file = bundle === truncated ? truncated : join(dir, "fresh.gtbundle");
    if (bundle !== truncated) {
      // Flip bytes inside the image's data area: the squashfs superblock stays readable.
      const bytes = Buffer.from(readFileSync(bundle));
      for (let i = 200; i < 260; i++) bytes[i] = bytes[i]! ^ 0xff;
      writeFileSync(file, bytes);
    }
    const r = s.op(["deploy", "--bundle", file, "--new-deployment", "--json"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.errorJson.error.kind).toBe("validation");
    expect(r.errorJson.error.path).toBe("--bundle");
    expect(r.errorJson.error.message).toContain(`bundle ${file} `);
    expect(r.errorJson.error.message).not.toContain("/data/");
    expect(s.ok(["bundles", "list", "local"])).toEqual(listed);
    expect(digestTree(s.root)).toBe(before);
  }
}, 120_000);

it("a redeploy of the same bundle bytes reuses the ready revision and starts no process", () => {
  const s = freshLocal();
  const first = s.ok(["deploy", "--bundle", helloBundle()]);
  const again = s.ok(["deploy", "--bundle", helloBundle()]);
  expect(again.reused_revision).toBe(true);
  expect(again.revision_id).toBe(first.revision_id);
  expect(again.url).toBe(first.url);
  const revisions = s.ok(["revisions", "list", "local"]).revisions;
  expect(revisions.map((r: any) => r.revision_id)).toEqual([first.revision_id]);
}, 120_000);

it("the retention policy prunes older revisions after a deploy", async () => {
  const s = freshLocal();
  s.ok(["config", "set", "local", "--keep-revisions", "1"]);
  const a = s.ok(["deploy", "--bundle", helloVariant("r1")]);
  const b = s.ok(["deploy", "--bundle", helloVariant("r2")]);
  expect(b.pruned_revisions).toBeUndefined(); // a is the rollback target of b
  const c = s.ok(["deploy", "--bundle", helloVariant("r3")]);
  expect(c.pruned_revisions).toEqual([a.revision_id]);
  const lifecycles = Object.fromEntries(
    s.ok(["revisions", "list", "local"]).revisions.map((r: any) => [r.revision_id, r.lifecycle]),
  );
  expect(lifecycles).toEqual({ [a.revision_id]: "archived", [b.revision_id]: "ready", [c.revision_id]: "ready" });
  await expect(fetch(a.url)).rejects.toThrow();
}, 120_000);

it("deploy --traffic 10 keeps 90 % on the current revision: a canary", () => {
  const s = freshLocal();
  const first = s.ok(["deploy", "--bundle", helloBundle()]);
  const canary = s.ok([
    "deploy",
    "--bundle",
    helloVariant("canary", "hello", "hello-canary.gtbundle"),
    "--traffic",
    "10",
  ]);
  expect(canary).toMatchObject({ traffic_bps: 1000, previous_revision_id: first.revision_id });
  const show = s.ok(["traffic", "show", "local"]);
  expect(show.splits[0].entries).toEqual([
    { revision_id: first.revision_id, weight_bps: 9000 },
    { revision_id: canary.revision_id, weight_bps: 1000 },
  ]);
}, 120_000);
