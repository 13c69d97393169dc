import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPO, digestTree, initLocal, op, store, type Store } from "../helpers.js";

// Route bindings through the real `op` binary: three deployments in the local environment,
// reached through its one router URL by Host header and path prefix.

/** A bundle whose files under `files` say which bundle answered. */
function bundleWith(bundleId: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "op-routes-"));
  const src = join(dir, "src");
  execFileSync("cp", ["-r", join(REPO, "fixtures", "bundles", "hello"), src]);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(src, path, ".."), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  const out = join(dir, `${bundleId}.gtbundle`);
  const r = op(["bundles", "build", src, "--bundle-id", bundleId, "--bundle-version", "0.1.0", "--out", out, "--json"]);
  if (r.status !== 0) throw new Error(`bundles build failed: ${r.stderr}`);
  return out;
}

/** GET through the router with an explicit Host header: status, body and the answering revision. */
function get(url: string, host: string, path: string): Promise<{ status: number; body: string; revision?: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { host }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => {
        const revision = res.headers["x-greentic-revision"];
        resolve({ status: res.statusCode ?? 0, body, ...(typeof revision === "string" ? { revision } : {}) });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

let s: Store;
let url: string;
const deployed: Record<string, { deployment_id: string; revision_id: string; environment_url_curl?: string }> = {};

beforeAll(() => {
  s = store({ persistent: true });
  initLocal(s);
  const hello = bundleWith("hello", { "variant.txt": "hello\n" });
  const shop = bundleWith("shop", { "shop/variant.txt": "shop\n" });
  const cart = bundleWith("cart", { "shop/cart/variant.txt": "cart\n", "shop/variant.txt": "cart's shop\n" });
  const first = s.ok(["deploy", "--bundle", hello, "--host", "www.test"]);
  const second = s.ok(["deploy", "--bundle", shop, "--new-deployment", "--host", "www.test", "--path-prefix", "/shop"]);
  const third = s.ok([
    "deploy",
    "--bundle",
    cart,
    "--new-deployment",
    "--host",
    "WWW.test",
    "--path-prefix",
    "/shop/cart/",
  ]);
  for (const [name, r] of [
    ["hello", first],
    ["shop", second],
    ["cart", third],
  ] as const)
    deployed[name] = {
      deployment_id: r.deployment_id,
      revision_id: r.revision_id,
      environment_url_curl: r.environment_url_curl,
    };
  url = third.environment_url;
}, 240_000);

afterAll(() => s?.dispose());

it("a bare URL no binding claims answers 404 by design: deploy prints the request that reaches each deployment, doctor notes it and exits 0", async () => {
  expect(deployed.hello!.environment_url_curl).toBe(`curl -H 'Host: www.test' ${url}`);
  expect(deployed.shop!.environment_url_curl).toBe(`curl -H 'Host: www.test' ${url}shop/`);
  expect(deployed.cart!.environment_url_curl).toBe(`curl -H 'Host: WWW.test' ${url}shop/cart/`);
  expect((await get(url, new URL(url).host, "/")).status).toBe(404);
  expect((await get(url, "www.test", "/")).revision).toBe(deployed.hello!.revision_id);
  const doctor = s.op(["env", "doctor", "local", "--no-preflight"]);
  expect(doctor.status, doctor.stdout).toBe(0);
  expect(doctor.stdout).toContain("Environment local: healthy");
  expect(doctor.stdout).toContain(
    `  note: The environment URL ${url} answers 404 to a request with its own host for /: no deployment's route binding claims it. Deployment ${deployed.hello!.deployment_id} (bundle hello) is reached with: curl -H 'Host: www.test' ${url}; Deployment ${deployed.shop!.deployment_id} (bundle shop) is reached with: curl -H 'Host: www.test' ${url}shop/; Deployment ${deployed.cart!.deployment_id} (bundle cart) is reached with: curl -H 'Host: WWW.test' ${url}shop/cart/.\n`,
  );
  const st = s.ok(["status", "local"]);
  expect(st.healthy).toBe(true);
  expect(st.notes).toHaveLength(1);
}, 60_000);

it("routes by Host header and path prefix; the longest prefix wins", async () => {
  expect(await get(url, "www.test", "/variant.txt")).toEqual({
    status: 200,
    body: "hello\n",
    revision: deployed.hello!.revision_id,
  });
  // The port in the Host header does not matter to a binding without one.
  expect(await get(url, "www.test:8080", "/shop/variant.txt")).toEqual({
    status: 200,
    body: "shop\n",
    revision: deployed.shop!.revision_id,
  });
  expect(await get(url, "www.test", "/shop/cart/variant.txt")).toEqual({
    status: 200,
    body: "cart\n",
    revision: deployed.cart!.revision_id,
  });
  // A prefix claims whole segments: /shopping is not under /shop.
  expect((await get(url, "www.test", "/shopping")).revision).toBe(deployed.hello!.revision_id);
  expect((await get(url, "www.test", "/shop/cartography")).revision).toBe(deployed.shop!.revision_id);
}, 60_000);

it("answers 404 no-route to a request no binding claims", async () => {
  const r = await get(url, "other.test", "/variant.txt");
  expect(r.status).toBe(404);
  expect(JSON.parse(r.body)).toEqual({
    error: "no-route",
    message: `no deployment's route binding matches host "other.test" and path "/variant.txt" (deployments: ${[
      deployed.hello!.deployment_id,
      deployed.shop!.deployment_id,
      deployed.cart!.deployment_id,
    ]
      .sort()
      .join(", ")}); use a bound host or path prefix, or choose one with the x-greentic-deployment header`,
  });
}, 60_000);

it("refuses a colliding binding when it is written (exit 3), naming both deployments, and changes nothing", async () => {
  const other = bundleWith("other", { "variant.txt": "other\n" });
  // The router flushes its request counters (stats.json) within 500 ms of the last request.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const before = digestTree(s.root);
  const r = s.op([
    "deploy",
    "--bundle",
    other,
    "--new-deployment",
    "--host",
    "www.TEST",
    "--path-prefix",
    "/shop/",
    "--json",
  ]);
  expect(r.status, r.stderr).toBe(3);
  expect(r.errorJson.error.kind).toBe("conflict");
  // Refused by op deploy itself before anything is written, in its words (the new deployment
  // has no id yet); `op bundles add` and `op bundles update` below are refused by the binding check.
  expect(r.errorJson.error.message).toBe(
    `deploying bundle other for customer local-dev with route binding {"hosts":["www.TEST"],"path_prefixes":["/shop/"]} would collide with deployment ${deployed.shop!.deployment_id} (bundle shop), which environment local serves with route binding {"hosts":["www.test"],"path_prefixes":["/shop"]}: both would claim host www.test and path prefix /shop`,
  );
  expect(r.errorJson.error.details).toEqual({
    code: "route-collision",
    bundle_id: "other",
    customer_id: "local-dev",
    other_deployment_id: deployed.shop!.deployment_id,
    host: "www.test",
    path_prefix: "/shop",
  });
  expect(digestTree(s.root)).toBe(before);

  const added = s.op(["bundles", "add", "local", "--bundle-id", "other", "--host", "www.test", "--json"]);
  expect(added.status, added.stderr).toBe(3);
  expect(added.errorJson.error.message).toContain(
    `collides with deployment ${deployed.hello!.deployment_id} (bundle hello): both claim host www.test and path prefix /`,
  );
  const bad = s.op(["bundles", "add", "local", "--bundle-id", "other", "--path-prefix", "shop", "--json"]);
  expect(bad.status, bad.stderr).toBe(2);
  expect(bad.errorJson.error.kind).toBe("invalid-argument");
  expect(bad.errorJson.error.message).toContain(`path prefix "shop" of deployment`);
  expect(bad.errorJson.error.message).toContain("must start with '/'");
  expect(digestTree(s.root)).toBe(before);

  const answers = s.file(
    "collide.yaml",
    `environment_id: local\ndeployment_id: ${deployed.cart!.deployment_id}\nroute_binding:\n  hosts: [www.test]\n  path_prefixes: [/shop]\n`,
  );
  const updated = s.op(["bundles", "update", "--answers", answers, "--json"]);
  expect(updated.status, updated.stderr).toBe(3);
  expect(updated.errorJson.error.message).toBe(
    `the route binding of deployment ${deployed.cart!.deployment_id} (bundle cart) collides with deployment ${deployed.shop!.deployment_id} (bundle shop): both claim host www.test and path prefix /shop`,
  );
  expect(digestTree(s.root)).toBe(before);
}, 120_000);

it("a binding changed with `op bundles update` is routed by at once", async () => {
  const answers = s.file(
    "rebind.yaml",
    `environment_id: local\ndeployment_id: ${deployed.hello!.deployment_id}\nroute_binding:\n  hosts: [www.test, "*.hello.test"]\n`,
  );
  s.ok(["bundles", "update", "--answers", answers]);
  expect(await get(url, "a.hello.test", "/variant.txt")).toEqual({
    status: 200,
    body: "hello\n",
    revision: deployed.hello!.revision_id,
  });
  // The wildcard claims subdomains only.
  expect((await get(url, "hello.test", "/variant.txt")).status).toBe(404);
}, 60_000);
