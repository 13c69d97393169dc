import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { buildBundle } from "@greentic/bundle";
import { PROJECT_MOUNT } from "../../../scripts/testbed/testbed.ts";
import { liveSplit, planDeployment } from "../src/index.js";
import type { CanaryScenarioContext } from "./canary-scenario.js";

/** GET through the proxy with a given Host header (and other headers); status and body. */
function get(
  url: string,
  host: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers: { host, ...headers }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Day-two phases on the canary VM, at the end of the scenario (r2 drained, r1 at 100 %): `op
 * logs` reading the journal of each unit, and several deployments on the one VM routed by
 * their route bindings through HAProxy.
 */
export function canaryDayTwo(ctx: CanaryScenarioContext): void {
  it("op logs: each unit's journal on the VM; -f shows a request made after it started; bad input refused", {
    timeout: 180_000,
  }, async () => {
    const { r1, r2 } = ctx;
    const all = ctx.ok("logs", "prod", "-n", "20", "--json").json.result;
    expect(all.sources).toEqual([
      { source: r1, unit: `greentic-hello-${r1}.service` },
      { source: r2, unit: `greentic-hello-${r2}.service` },
      { source: "router", unit: "greentic-hello-proxy.service" },
      { source: "rollout", unit: "greentic-rollout-prod.service" },
    ]);
    expect(all.lines).toHaveLength(20);
    for (const line of all.lines) {
      expect([r1, r2, "router", "rollout"]).toContain(line.source);
      expect(line.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const times = all.lines.map((l: { ts: string }) => l.ts);
    expect(times).toEqual([...times].sort());

    // The router's log: HAProxy's own lines and one line per request (from its ring, so neither
    // the load phases before nor journald's rate limit drop them).
    const asked = `/router-log-${Date.now()}`;
    expect((await get(ctx.url, "127.0.0.1", asked)).status).toBe(404);
    const router = ctx.ok("logs", "prod", "--router", "-n", "3", "--json").json.result;
    expect(router.sources).toEqual([{ source: "router", unit: "greentic-hello-proxy.service" }]);
    expect(router.lines).toHaveLength(3);
    expect(new Set(router.lines.map((l: { source: string }) => l.source))).toEqual(new Set(["router"]));
    expect(router.lines.at(-1)).toEqual({
      source: "router",
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      line: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1 GET ${asked} 404 \\d+ ms revision ${r1}$`)),
    });
    // One revision's log: its unit's journal with its requests from the ring, under its name. Its
    // runtime writes no request line of its own behind the proxy (GREENTIC_ACCESS_LOG=off).
    const one = ctx.ok("logs", "prod", r1.slice(0, 10), "-n", "5", "--json").json.result;
    expect(one.sources).toEqual([{ source: r1, unit: `greentic-hello-${r1}.service` }]);
    expect(one.lines.map((l: { source: string }) => l.source)).toEqual([r1, r1, r1, r1, r1]);
    expect(one.lines).toContainEqual({
      source: r1,
      ts: router.lines.at(-1).ts,
      line: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1 GET ${asked} 404 \\d+ ms via router$`)),
    });
    const journal = ctx.tb.run("journalctl", ["--no-pager", "-o", "cat", "-u", `greentic-hello-${r1}.service`]).stdout;
    expect(journal).toContain('"msg":"ready"');
    expect(journal).not.toContain('"listener":"public"');
    expect(ctx.tb.run("cat", [`/etc/greentic/hello/revisions/${r1}/runtime.env`]).stdout).toContain(
      "GREENTIC_ACCESS_LOG=off\n",
    );

    // -f: a request made once they run shows up in the follower of every source (the router's
    // line) and in the follower of r1 (100 %) alone (the same request under r1's name). A probe is
    // sent each second until both show it; every probe is made after both printed a first line.
    const probe = `/logs-probe-${Date.now()}`;
    const follow = (name: string, ...args: string[]) => {
      const child = spawn(
        "nsenter",
        [
          "-t",
          String(ctx.tb.pid),
          "-a",
          "setsid",
          "sh",
          "-c",
          // Its own process group, interrupted inside the machine as Ctrl-C would (journalctl included).
          `echo $$ > /run/gt-follow-${name}.pid; exec env GREENTIC_HOME=/root/greentic NO_COLOR=1 /usr/bin/node ${PROJECT_MOUNT}/apps/op/bin/run.js logs prod ${args.join(" ")} -f -n 1 --json`,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const f = {
        out: "",
        err: "",
        exited: new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code))),
        lines: () =>
          f.out
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { source: string; ts: string; line: string }),
        stop: () => {
          const pid = ctx.tb.run("cat", [`/run/gt-follow-${name}.pid`]).stdout.trim();
          if (/^\d+$/.test(pid)) ctx.tb.run("kill", ["-INT", "--", `-${pid}`]);
          else child.kill();
        },
      };
      child.stdout.setEncoding("utf8").on("data", (d: string) => (f.out += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (f.err += d));
      return f;
    };
    const everything = follow("all");
    const revision = follow("rev", r1);
    try {
      const until = Date.now() + 60_000;
      while (!everything.out.includes("\n") || !revision.out.includes("\n")) {
        if (Date.now() > until) throw new Error(`op logs -f printed nothing: ${everything.err}${revision.err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const seen = Date.now() + 45_000;
      const probed = (f: typeof everything) => f.lines().find((l) => l.line.includes(probe));
      for (let n = 0; (probed(everything) === undefined || probed(revision) === undefined) && Date.now() < seen; n++) {
        if (n % 10 === 0) expect((await get(ctx.url, "127.0.0.1", `${probe}-${n}`)).status).toBe(404);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(probed(everything), `${everything.out}\n${everything.err}`).toEqual({
        source: "router",
        ts: expect.any(String),
        line: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1 GET ${probe}-\\d+ 404 \\d+ ms revision ${r1}$`)),
      });
      expect(probed(revision), `${revision.out}\n${revision.err}`).toEqual({
        source: r1,
        ts: expect.any(String),
        line: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1 GET ${probe}-\\d+ 404 \\d+ ms via router$`)),
      });
      // The revision's follower shows nothing of another source.
      expect(new Set(revision.lines().map((l) => l.source))).toEqual(new Set([r1]));
    } finally {
      everything.stop();
      revision.stop();
    }
    expect({ code: await everything.exited, err: everything.err }).toEqual({ code: 0, err: "" });
    expect({ code: await revision.exited, err: revision.err }).toEqual({ code: 0, err: "" });

    const unknown = ctx.op("logs", "prod", "01J00000000000000000000000");
    expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({
      code: 4,
      stderr: expect.stringContaining("revision 01J00000000000000000000000 does not exist in environment prod"),
    });
    const since = ctx.op("logs", "prod", "--since", "ten minutes");
    expect({ code: since.code, stderr: since.stderr }).toEqual({
      code: 2,
      stderr: expect.stringContaining('since "ten minutes" is not a time'),
    });
    const both = ctx.op("logs", "prod", r1, "--router");
    expect(both.code).toBe(2);
  });

  let shop = "";
  let api = "";
  it("several deployments on one VM: HAProxy routes each request by its deployment's route binding", {
    timeout: 600_000,
  }, async () => {
    const src = mkdtempSync(join(tmpdir(), "gt-routes-src-"));
    try {
      mkdirSync(join(src, "shop"));
      writeFileSync(join(src, "shop/variant.txt"), "shop\n");
      mkdirSync(join(src, "api/api"), { recursive: true });
      writeFileSync(join(src, "api/api/variant.txt"), "api\n");
      // Served only if a request for /apix were wrongly routed to api.
      mkdirSync(join(src, "api/apix"));
      writeFileSync(join(src, "api/apix/variant.txt"), "wrong\n");
      for (const name of ["shop", "api"])
        await buildBundle({
          sourceDir: join(src, name),
          outFile: `${ctx.tb.root}/srv/bundles/${name}.gtbundle`,
          bundleId: name,
          version: "1.0.0",
        });
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
    const deploy = (name: string, ...route: string[]) =>
      ctx.ok(
        "deploy",
        "--env",
        "prod",
        "--bundle",
        `/srv/bundles/${name}.gtbundle`,
        "--customer-id",
        "acme",
        "--new-deployment",
        ...route,
        "--json",
      ).json.result.deployment_id as string;
    shop = deploy("shop", "--host", "Shop.Test");
    api = deploy("api", "--path-prefix", "/api/");

    // One block of split.map per deployment, and a rule per binding (most specific first).
    const split = await liveSplit(ctx.exec(), ctx.vmSpec());
    expect(split.map((e) => [e.base ?? 0, e.weight_bps])).toEqual([
      [0, 10_000],
      [10_000, 10_000],
      [20_000, 10_000],
    ]);
    const cfg = readFileSync(`${ctx.tb.root}/etc/greentic/hello/proxy/haproxy.cfg`, "utf8");
    const rules = cfg.split("\n").filter((l) => l.includes("set-var(txn.gt_base)") && !l.includes("x-greentic"));
    expect(rules).toEqual([
      "  http-request set-var(txn.gt_base) int(10000) if !{ var(txn.gt_base) -m found } { req.hdr(host),lower -m reg ^shop[.]test(:[0-9]+)?$ }",
      "  http-request set-var(txn.gt_base) int(20000) if !{ var(txn.gt_base) -m found } { path -m str /api } || !{ var(txn.gt_base) -m found } { path -m beg /api/ }",
      "  http-request set-var(txn.gt_base) int(0) if !{ var(txn.gt_base) -m found }",
    ]);

    const port = new URL(ctx.url).port;
    expect(await get(ctx.url, "shop.test", "/variant.txt")).toEqual({ status: 200, body: "shop\n" });
    expect(await get(ctx.url, `SHOP.test:${port}`, "/variant.txt")).toEqual({ status: 200, body: "shop\n" });
    expect(await get(ctx.url, `127.0.0.1:${port}`, "/api/variant.txt")).toEqual({ status: 200, body: "api\n" });
    // The host claims before the path: shop's bundle has no /api.
    expect((await get(ctx.url, "shop.test", "/api/variant.txt")).status).toBe(404);
    // Whole segments: /apix is not under /api; the unbound hello deployment takes the rest.
    expect((await get(ctx.url, `127.0.0.1:${port}`, "/apix/variant.txt")).status).toBe(404);
    const hello = await get(ctx.url, `127.0.0.1:${port}`, "/");
    expect(hello.status).toBe(200);
    expect(hello.body).toContain("version 1");
    expect(await get(ctx.url, "127.0.0.1", "/variant.txt", { "x-greentic-deployment": shop })).toEqual({
      status: 200,
      body: "shop\n",
    });
    expect(await get(ctx.url, "shop.test", "/", { "x-greentic-deployment": "01J00000000000000000000000" })).toEqual({
      status: 404,
      body: "unknown deployment in the x-greentic-deployment header\n",
    });

    // A colliding binding is refused when written (exit 3); the proxy is left as it was.
    const before = readFileSync(`${ctx.tb.root}/etc/greentic/hello/proxy/haproxy.cfg`, "utf8");
    const clash = ctx.op(
      "deploy",
      "--env",
      "prod",
      "--bundle",
      "/srv/bundles/shop.gtbundle",
      "--customer-id",
      "beta",
      "--new-deployment",
      "--host",
      "shop.test",
    );
    expect(clash.code, clash.stderr).toBe(3);
    // Refused by op before anything is staged, with the same rule the store applies on write.
    expect(clash.stderr).toContain(
      `would collide with deployment ${shop} (bundle shop), which environment prod serves with route binding {"hosts":["Shop.Test"],"path_prefixes":[]}: both would claim host shop.test and path prefix /`,
    );
    expect(readFileSync(`${ctx.tb.root}/etc/greentic/hello/proxy/haproxy.cfg`, "utf8")).toBe(before);
    expect(await liveSplit(ctx.exec(), ctx.vmSpec())).toEqual(split);

    // A binding changed with `op bundles update` is routed by at once; what no binding claims is
    // 404 (421 is for a real collision only).
    const answers = `${ctx.tb.root}/root/rebind.yaml`;
    writeFileSync(
      answers,
      `environment_id: prod\ndeployment_id: ${ctx.deploymentId}\nroute_binding:\n  hosts: [hello.test]\n`,
    );
    ctx.ok("bundles", "update", "--answers", "/root/rebind.yaml");
    expect((await get(ctx.url, "hello.test", "/")).body).toContain("version 1");
    const unrouted = await get(ctx.url, "other.test", "/");
    expect(unrouted).toEqual({
      status: 404,
      body: `no deployment's route binding claims this host and path (deployments: ${ctx.deploymentId}, ${shop}, ${api}); use a bound host or path prefix, or choose one with the x-greentic-deployment header\n`,
    });

    // The VM converges: nothing left to do, for every deployment.
    const plan = await planDeployment(ctx.vmSpec(), { executor: ctx.exec(), specBundle: false });
    expect(plan.actions).toEqual([]);
  });
}
