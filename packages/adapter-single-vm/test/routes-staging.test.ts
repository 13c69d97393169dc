import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCanaryRecord, setCanarySplit, warmCanaryRevision } from "../src/canary.js";
import { createHostExecutor } from "../src/executor.js";
import { specOf } from "./helpers.js";

// Three deployments of one environment on one VM, staged under a root: the proxy's routing
// rules, rendered from their route bindings, exactly; HAProxy itself checks the file.
const dir = mkdtempSync(join(tmpdir(), "gt-routes-stage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, "root");
const runtime = join(dir, "runtime.js");
writeFileSync(runtime, "console.log('runtime')\n");
const spec = specOf({
  apiVersion: "greentic.ai/v1alpha1",
  kind: "Deployment",
  metadata: { name: "acme" },
  spec: {
    // Each revision brings its own bundle, as when an environment deploys to the VM.
    bundle: { source: "/nonexistent/replaced-by-each-revision.gtbundle" },
    runtime: { binary: runtime, publicBind: "0.0.0.0:8080" },
    rollout: { strategy: "canary", revisionPorts: "21000-21099" },
  },
});
const options = { root, specBundle: false };
const cfgPath = join(root, "etc/greentic/acme/proxy/haproxy.cfg");
const digest = `sha256:${"0".repeat(64)}`;
const warm = (id: string, deployment: string) =>
  warmCanaryRevision(
    spec,
    { id, file: `/var/lib/greentic/acme/revisions/${id}.gtbundle`, digest, deployment },
    options,
  );

/** The frontend section of the rendered configuration and what follows the metrics frontend. */
function routing(): { frontend: string; tail: string } {
  const cfg = readFileSync(cfgPath, "utf8");
  const frontend = cfg.slice(cfg.indexOf("frontend greentic\n"), cfg.indexOf("frontend greentic_metrics\n"));
  return { frontend, tail: cfg.slice(cfg.indexOf("backend gt_none\n")) };
}

describe("route bindings in the single-VM proxy (staging root)", () => {
  it("one unbound deployment renders no routing rules: the configuration is the one-deployment one", async () => {
    await warm("RA", "DA");
    await setCanarySplit(spec, [{ revision_id: "RA", weight_bps: 10_000 }], {
      ...options,
      deployment: { id: "DA", hosts: [], path_prefixes: [] },
    });
    expect(routing().frontend).toBe(
      [
        "frontend greentic",
        "  bind 0.0.0.0:8080",
        "  http-request set-var(txn.gt_pick) rand(10000)",
        "  use_backend %[var(txn.gt_pick),map_int(/etc/greentic/acme/proxy/split.map,gt_none)]",
        "  default_backend gt_none",
        "",
        "",
      ].join("\n"),
    );
    const record = await readCanaryRecord(createHostExecutor({ root }), spec);
    expect(record.routes).toEqual({ DA: { slot: 0, hosts: [], path_prefixes: [] } });
    expect(record.revisions.RA?.deployment).toBe("DA");
  });

  it("bound deployments get a block of split.map each and Host/path rules, most specific first", async () => {
    await warm("RB", "DB");
    await warm("RC", "DC");
    await warm("RC2", "DC");
    await setCanarySplit(spec, [{ revision_id: "RB", weight_bps: 10_000 }], {
      ...options,
      deployment: { id: "DB", hosts: ["Shop.Example.com", "*.shop.example.com"], path_prefixes: [] },
    });
    await setCanarySplit(
      spec,
      [
        { revision_id: "RC", weight_bps: 9_000 },
        { revision_id: "RC2", weight_bps: 1_000 },
      ],
      { ...options, deployment: { id: "DC", hosts: [], path_prefixes: ["/api/", "/v1's"] } },
    );
    const unset = "!{ var(txn.gt_base) -m found }";
    expect(routing().frontend).toBe(
      [
        "frontend greentic",
        "  bind 0.0.0.0:8080",
        "  # Route bindings: the x-greentic-deployment header, else the first (most specific) rule that claims Host and path.",
        "  http-request set-var(txn.gt_base) int(0) if { req.hdr(x-greentic-deployment) -m str DA }",
        "  http-request set-var(txn.gt_base) int(10000) if { req.hdr(x-greentic-deployment) -m str DB }",
        "  http-request set-var(txn.gt_base) int(20000) if { req.hdr(x-greentic-deployment) -m str DC }",
        `  http-request return status 404 content-type text/plain string "unknown deployment in the x-greentic-deployment header\\n" if { req.hdr(x-greentic-deployment) -m found } ${unset}`,
        `  http-request set-var(txn.gt_base) int(10000) if ${unset} { req.hdr(host),lower -m reg ^shop[.]example[.]com(:[0-9]+)?$ }`,
        `  http-request set-var(txn.gt_base) int(10000) if ${unset} { req.hdr(host),lower -m reg ^.*[.]shop[.]example[.]com(:[0-9]+)?$ }`,
        `  http-request set-var(txn.gt_base) int(20000) if ${unset} { path -m str /v1\\'s } || ${unset} { path -m beg /v1\\'s/ }`,
        `  http-request set-var(txn.gt_base) int(20000) if ${unset} { path -m str /api } || ${unset} { path -m beg /api/ }`,
        `  http-request set-var(txn.gt_base) int(0) if ${unset}`,
        "  http-request set-var(txn.gt_pick) rand(10000),add(txn.gt_base) if { var(txn.gt_base) -m found }",
        "  use_backend %[var(txn.gt_pick),map_int(/etc/greentic/acme/proxy/split.map,gt_none)] if { var(txn.gt_pick) -m found }",
        "  default_backend gt_unrouted",
        "",
        "",
      ].join("\n"),
    );
    expect(routing().tail).toContain(
      '\nbackend gt_unrouted\n  http-request return status 404 content-type text/plain string "no deployment\'s route binding claims this host and path (deployments: DA, DB, DC); use a bound host or path prefix, or choose one with the x-greentic-deployment header\\n"\n',
    );
    expect(readFileSync(join(root, "etc/greentic/acme/proxy/split.map"), "utf8")).toBe(
      [
        "# Generated by greentic single-vm: rand(10000) range -> backend. Weights in basis points.",
        "0:9999 r_RA",
        "10000:19999 r_RB",
        "20000:28999 r_RC",
        "29000:29999 r_RC2",
        "",
      ].join("\n"),
    );
    // HAProxy parses it (the admin socket's directory must exist for the check).
    const cfg = readFileSync(cfgPath, "utf8")
      .replaceAll("/run/greentic-acme-proxy/", `${dir}/`)
      .replaceAll("/etc/greentic/acme/proxy/", `${root}/etc/greentic/acme/proxy/`);
    writeFileSync(join(dir, "check.cfg"), cfg);
    const check = spawnSync("haproxy", ["-c", "-f", join(dir, "check.cfg")], { encoding: "utf8" });
    expect(check.status, check.stderr + check.stdout).toBe(0);
  });

  it("refuses a binding that collides with another deployment's on the VM, changing nothing", async () => {
    const before = readFileSync(join(root, "var/lib/greentic/acme/canary.json"), "utf8");
    await warm("RD", "DD");
    const warmed = readFileSync(join(root, "var/lib/greentic/acme/canary.json"), "utf8");
    const cfg = readFileSync(cfgPath, "utf8");
    await expect(
      setCanarySplit(spec, [{ revision_id: "RD", weight_bps: 10_000 }], {
        ...options,
        deployment: { id: "DD", hosts: ["shop.example.com"], path_prefixes: ["/"] },
      }),
    ).rejects.toMatchObject({
      kind: "conflict",
      message:
        "the route binding of deployment DD collides with deployment DB on this VM: both claim host shop.example.com and path prefix /",
      details: { code: "route-collision", deployment_id: "DD", other_deployment_id: "DB" },
    });
    expect(readFileSync(join(root, "var/lib/greentic/acme/canary.json"), "utf8")).toBe(warmed);
    expect(JSON.parse(warmed).split).toEqual(JSON.parse(before).split);
    expect(readFileSync(cfgPath, "utf8")).toBe(cfg);
  });

  it("answers 421 only to a real collision: two deployments without a binding that could each take a request", async () => {
    await warm("RE", "DE");
    await setCanarySplit(spec, [{ revision_id: "RE", weight_bps: 10_000 }], {
      ...options,
      deployment: { id: "DE", hosts: [], path_prefixes: [] },
    });
    const { frontend, tail } = routing();
    // Neither unbound deployment keeps its catch-all rule; the bound ones still route.
    expect(frontend).not.toMatch(/int\(\d+\) if !\{ var\(txn\.gt_base\) -m found \}\n/);
    expect(frontend).toContain("{ req.hdr(host),lower -m reg ^shop[.]example[.]com(:[0-9]+)?$ }");
    expect(tail).toContain(
      '\nbackend gt_unrouted\n  http-request return status 421 content-type text/plain string "several deployments without a route binding have traffic (DA, DE): give them hosts or path prefixes, or choose one with the x-greentic-deployment header\\n"\n',
    );
  });

  it("with sticky sessions, a cookie pins a client only to a revision of the deployment its request is routed to", async () => {
    const stickyRoot = join(dir, "sticky");
    const sticky = specOf({
      apiVersion: "greentic.ai/v1alpha1",
      kind: "Deployment",
      metadata: { name: "acme" },
      spec: {
        bundle: { source: "/nonexistent/replaced-by-each-revision.gtbundle" },
        runtime: { binary: runtime, publicBind: "0.0.0.0:8080" },
        rollout: { strategy: "canary", revisionPorts: "21000-21099", sticky: true },
      },
    });
    const o = { root: stickyRoot, specBundle: false };
    for (const [id, deployment] of [
      ["RA", "DA"],
      ["RB", "DB"],
      ["RB2", "DB"],
    ] as const)
      await warmCanaryRevision(sticky, { id, file: `/srv/${id}.gtbundle`, digest, deployment }, o);
    await setCanarySplit(sticky, [{ revision_id: "RA", weight_bps: 10_000 }], {
      ...o,
      deployment: { id: "DA", hosts: [], path_prefixes: [] },
    });
    await setCanarySplit(
      sticky,
      [
        { revision_id: "RB", weight_bps: 5_000 },
        { revision_id: "RB2", weight_bps: 5_000 },
      ],
      { ...o, deployment: { id: "DB", hosts: ["b.test"], path_prefixes: [] } },
    );
    const cfg = readFileSync(join(stickyRoot, "etc/greentic/acme/proxy/haproxy.cfg"), "utf8");
    expect(cfg.split("\n").filter((l) => l.includes("gt_sticky") || l.includes("gt_cookie"))).toEqual([
      "  http-request set-var(txn.gt_cookie) req.cook(greentic_rev)",
      "  http-request set-var(txn.gt_sticky) var(txn.gt_cookie),map_str(/etc/greentic/acme/proxy/sticky.map)",
      "  use_backend %[var(txn.gt_sticky)] if { var(txn.gt_sticky) -m found } { var(txn.gt_base) -m int 0 } { var(txn.gt_sticky) -m str r_RA }",
      "  use_backend %[var(txn.gt_sticky)] if { var(txn.gt_sticky) -m found } { var(txn.gt_base) -m int 10000 } { var(txn.gt_sticky) -m str r_RB r_RB2 }",
      '  http-response add-header Set-Cookie "greentic_rev=r_RA; Path=/; HttpOnly; SameSite=Lax" unless { var(txn.gt_cookie) -m str r_RA }',
      '  http-response add-header Set-Cookie "greentic_rev=r_RB; Path=/; HttpOnly; SameSite=Lax" unless { var(txn.gt_cookie) -m str r_RB }',
      '  http-response add-header Set-Cookie "greentic_rev=r_RB2; Path=/; HttpOnly; SameSite=Lax" unless { var(txn.gt_cookie) -m str r_RB2 }',
    ]);
    const checked = cfg
      .replaceAll("/run/greentic-acme-proxy/", `${dir}/`)
      .replaceAll("/etc/greentic/acme/proxy/", `${stickyRoot}/etc/greentic/acme/proxy/`);
    writeFileSync(join(dir, "sticky.cfg"), checked);
    const check = spawnSync("haproxy", ["-c", "-f", join(dir, "sticky.cfg")], { encoding: "utf8" });
    expect(check.status, check.stderr + check.stdout).toBe(0);
  });
});
