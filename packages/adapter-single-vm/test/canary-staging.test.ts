import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applyDeployment, planDeployment } from "../src/index.js";
import { makeBundle, specOf } from "./helpers.js";

const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const canarySpec = (bundle: string, runtime: string) =>
  specOf({
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name: "acme" },
    spec: {
      bundle: { source: bundle },
      runtime: { binary: runtime, publicBind: "0.0.0.0:8080" },
      rollout: { strategy: "canary", revisionPorts: "21000-21099" },
    },
  });

describe("canary staging (--root)", () => {
  it("renders the proxy, its map and the revision's units; a second apply changes nothing; units verify", async () => {
    const src = tmp("gt-canary-src-");
    const bundle = makeBundle(src, "acme.gtbundle", "v1");
    const runtime = join(src, "runtime.js");
    writeFileSync(runtime, "console.log('runtime')\n");
    const root = tmp("gt-canary-stage-");
    const spec = canarySpec(bundle, runtime);
    const first = await applyDeployment(spec, { root });
    expect(first.changed).toBe(true);
    const record = JSON.parse(readFileSync(join(root, "var/lib/greentic/acme/canary.json"), "utf8"));
    const [id] = Object.keys(record.revisions);
    expect(id).toMatch(/^sha256-[0-9a-f]{12}$/);
    expect(record.split.entries).toEqual([{ revision_id: id, weight_bps: 10_000 }]);
    expect(record.revisions[id!]).toMatchObject({ public_port: 21001, admin_port: 21002, status: "warm" });
    expect(readFileSync(join(root, "etc/greentic/acme/proxy/split.map"), "utf8")).toContain(`0:9999 r_${id}\n`);
    const cfg = readFileSync(join(root, "etc/greentic/acme/proxy/haproxy.cfg"), "utf8");
    expect(cfg).toContain("  bind 0.0.0.0:8080\n");
    expect(cfg).toContain(`  server ${id} 127.0.0.1:21001 check`);
    expect(cfg).toContain("  bind 127.0.0.1:21000\n");
    const env = readFileSync(join(root, `etc/greentic/acme/revisions/${id}/runtime.env`), "utf8");
    expect(env).toContain("GREENTIC_PUBLIC_BIND=127.0.0.1:21001\n");
    expect(env).toContain("GREENTIC_ADMIN_BIND=127.0.0.1:21002\n");
    expect(env).toContain(`GREENTIC_ADMIN_CERT_FILE=/etc/greentic/acme/revisions/${id}/admin/server.crt\n`);
    expect(env).toContain(`GREENTIC_STATE_DIR=/var/lib/greentic/acme/state/revisions/${id}\n`);
    // HAProxy records each request in its ring, so the revision writes no request lines to journald.
    expect(env).toContain("GREENTIC_ACCESS_LOG=off\n");

    const again = await planDeployment(spec, { root });
    expect(again.actions).toEqual([]);

    const unitDir = join(root, "etc/systemd/system");
    const units = readdirSync(unitDir).sort();
    expect(units).toEqual([
      "greentic-acme-proxy.service",
      `greentic-acme-${id}.service`,
      `mnt-greentic-bundles-acme.rev-${id!.replace("-", "\\x2d")}.mount`,
    ]);
    const verify = spawnSync("systemd-analyze", ["verify", "--man=no", ...units.map((u) => join(unitDir, u))], {
      encoding: "utf8",
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir}:`, SYSTEMD_LOG_COLOR: "0" },
    });
    // Only the staged paths that do not exist on this machine may be reported.
    const problems = verify.stderr
      .split("\n")
      .filter(
        (l) => l.trim() !== "" && !/No such file or directory|is not executable|Command .* is not executable/.test(l),
      );
    expect(problems).toEqual([]);
  });
});
