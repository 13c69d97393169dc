import { describe, expect, it } from "vitest";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import { parseSplitMap, percentile, proxyUnit, renderProxyConfig, renderSplitMap, renderStickyMap } from "./proxy.js";
import { renderUnitFile } from "./unit-file.js";

const spec = (rollout: Record<string, unknown> = {}) => {
  const r = parseDeploymentSpec(
    JSON.stringify({
      apiVersion: "greentic.ai/v1alpha1",
      kind: "Deployment",
      metadata: { name: "acme" },
      spec: {
        bundle: { source: "/srv/acme.gtbundle" },
        runtime: { binary: "/opt/runtime.js", publicBind: "0.0.0.0:80" },
        rollout: { strategy: "canary", ...rollout },
      },
    }),
  );
  if (!r.ok) throw new Error(r.summary);
  return r.value;
};

describe("split map", () => {
  it("gives each revision a rand(10000) range exactly as wide as its weight; 1 bps is representable", () => {
    const entries = [
      { revision_id: "A", weight_bps: 9_899 },
      { revision_id: "B", weight_bps: 1 },
      { revision_id: "C", weight_bps: 0 },
      { revision_id: "D", weight_bps: 100 },
    ];
    const map = renderSplitMap(entries);
    expect(map.split("\n").slice(1)).toEqual(["0:9898 r_A", "9899:9899 r_B", "9900:9999 r_D", ""]);
    expect(parseSplitMap(map)).toEqual(entries.filter((e) => e.weight_bps > 0));
    // `show map` prefixes each line with the entry's address.
    expect(parseSplitMap("0x55d0c8 0:9898 r_A\n0x55d0d0 9899:9999 r_B\n")).toEqual([
      { revision_id: "A", weight_bps: 9_899 },
      { revision_id: "B", weight_bps: 101 },
    ]);
    expect(renderStickyMap(entries).split("\n").slice(1)).toEqual(["r_A r_A", "r_B r_B", "r_D r_D", ""]);
  });

  it("percentile is nearest-rank", () => {
    expect(percentile([], 99)).toBeNull();
    expect(percentile([5, 1, 3], 99)).toBe(5);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99);
  });
});

describe("proxy configuration", () => {
  it("binds the spec's public address, routes through the map, exposes metrics on loopback only", () => {
    const cfg = renderProxyConfig(
      spec(),
      [
        { revision_id: "B", port: 20003 },
        { revision_id: "A", port: 20001 },
      ],
      { metricsPort: 20000 },
    );
    expect(cfg).toContain("  bind 0.0.0.0:80\n");
    expect(cfg).toContain("  use_backend %[var(txn.gt_pick),map_int(/etc/greentic/acme/proxy/split.map,gt_none)]\n");
    expect(cfg).toContain("  bind 127.0.0.1:20000\n");
    expect(cfg).toContain("stats socket /run/greentic-acme-proxy/admin.sock mode 600 level admin");
    // One proxy thread in front of single-threaded runtimes (profiled: less CPU per request).
    expect(cfg).toMatch(/^global\n(?: {2}.*\n)*? {2}nbthread 1\n/m);
    expect(cfg.indexOf("backend r_A")).toBeLessThan(cfg.indexOf("backend r_B"));
    expect(cfg).toContain("  server A 127.0.0.1:20001 check");
    expect(cfg).not.toContain("greentic_rev");
    const sticky = renderProxyConfig(spec({ sticky: true }), [{ revision_id: "A", port: 20001 }], {
      metricsPort: 20000,
    });
    expect(sticky).toContain("use_backend %[var(txn.gt_sticky)] if { var(txn.gt_sticky) -m found }");
    expect(sticky).toContain('Set-Cookie "greentic_rev=r_A; Path=/; HttpOnly; SameSite=Lax"');
  });

  it("runs HAProxy as a hardened master-worker unit reloaded with USR2", () => {
    const unit = renderUnitFile(proxyUnit(spec()));
    for (const line of [
      "Type=notify",
      "ExecReload=/bin/kill -USR2 $MAINPID",
      "DynamicUser=yes",
      "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
      "ProtectSystem=strict",
      "NoNewPrivileges=yes",
      "RuntimeDirectory=greentic-acme-proxy",
    ])
      expect(unit).toContain(`${line}\n`);
  });
});
