import { describe, expect, it } from "vitest";
import { validateDeploymentSpec, type DeploymentSpec } from "@greentic/deploy-spec";
import { diff, summarizePlan, type ObservedState } from "./plan.js";
import { renderDesiredState } from "./render.js";
import { sha256 } from "./host-fs.js";

const spec = (runtime: Record<string, unknown>): DeploymentSpec => {
  const r = validateDeploymentSpec({
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name: "a" },
    spec: { bundle: { source: "/b.gtbundle" }, runtime },
  });
  if (!r.ok) throw new Error(r.summary);
  return r.value;
};
const B = "b".repeat(64);
const R = "r".repeat(64);

/** An observation of a host where `desired` is fully applied and running. */
function applied(
  s: DeploymentSpec,
  desired = renderDesiredState(s, { bundleDigest: B, runtimeDigest: R }),
): ObservedState {
  const files = Object.fromEntries(
    [desired.layout.serviceFile, desired.layout.quadletFile, desired.layout.mountFile, desired.layout.envFile].map(
      (p) => [p, null as string | null],
    ),
  );
  for (const f of desired.files) files[f.path] = sha256(f.content);
  return {
    files,
    dirs: Object.fromEntries(
      desired.dirs.map((d) => [
        d.path,
        { mode: d.mode, uid: d.owner === "service" ? 990 : 0, gid: d.group === "service" ? 990 : 0 },
      ]),
    ),
    user: { uid: 990, gid: 990 },
    group: 990,
    bundleCopy: true,
    runtimeCopy: true,
    certificates: { server: true, client: true },
    units: { service: { active: "active", enabled: "enabled" }, mount: { active: "active", enabled: "enabled" } },
    mount: { source: "/dev/loop0", options: "ro,nosuid,nodev", fstype: "squashfs" },
    extraBundles: [],
    extraRuntimes: [],
    state: {
      schema: "greentic.single-vm-state.v1",
      deployment: "a",
      mode: desired.mode,
      specDigest: "x",
      bundleDigest: `sha256:${B}`,
      runtimeDigest: R,
      unitHashes: {},
      lastResult: { action: "apply", ok: true, at: "t" },
    },
  };
}
const list = (actions: ReturnType<typeof diff>) => actions.map((a) => `${a.action} ${a.resource} ${a.target}`);

describe("diff", () => {
  const native = spec({ binary: "/opt/rt.js" });
  const desired = renderDesiredState(native, { bundleDigest: B, runtimeDigest: R });

  it("is empty when the host matches", () => {
    expect(diff(native, desired, applied(native), { bundle: B, runtime: R })).toEqual([]);
    expect(summarizePlan("a", [])).toBe("a: no changes; the host matches the spec.");
  });

  it("restarts a failed service and re-enables a disabled mount, nothing else", () => {
    const o = applied(native);
    o.units = { service: { active: "failed", enabled: "enabled" }, mount: { active: "active", enabled: "disabled" } };
    expect(list(diff(native, desired, o, { bundle: B, runtime: R }))).toEqual([
      "update unit mnt-greentic-bundles-a.mount",
      "restart unit greentic-a.service",
      "update state /var/lib/greentic/a/state/single-vm-state.json",
    ]);
  });

  it("fixes dir modes and owners", () => {
    const o = applied(native);
    o.dirs["/var/lib/greentic/a/cache"] = { mode: 0o777, uid: 990, gid: 990 };
    o.dirs["/var/log/greentic/a"] = { mode: 0o750, uid: 0, gid: 0 };
    const actions = diff(native, desired, o, { bundle: B, runtime: R });
    expect(actions.slice(0, 2)).toEqual([
      { action: "update", resource: "dir", target: "/var/lib/greentic/a/cache", reason: "mode 777 should be 750" },
      { action: "update", resource: "dir", target: "/var/log/greentic/a", reason: "owner 0:0 should be 990:990" },
    ]);
  });

  it("a new bundle: copy, mount unit update, recreate; keeps the previous copy, drops older ones", () => {
    const o = applied(native);
    o.bundleCopy = false;
    o.extraBundles = [`${B}.gtbundle`, `${"0".repeat(64)}.gtbundle`];
    const N = "n".repeat(64);
    const next = renderDesiredState(native, { bundleDigest: N, runtimeDigest: R });
    expect(list(diff(native, next, o, { bundle: N, runtime: R }))).toEqual([
      `create bundle /var/lib/greentic/a/bundles/${N}.gtbundle`,
      "update file /etc/systemd/system/mnt-greentic-bundles-a.mount",
      "restart unit mnt-greentic-bundles-a.mount",
      "restart unit greentic-a.service",
      `delete bundle /var/lib/greentic/a/bundles/${"0".repeat(64)}.gtbundle`,
      "update state /var/lib/greentic/a/state/single-vm-state.json",
    ]);
  });

  it("the apply after a bundle change keeps the previous bundle for rollback and plans nothing", () => {
    const P = "p".repeat(64);
    const o = applied(native);
    o.state!.previousBundleDigest = `sha256:${P}`;
    o.extraBundles = [`${P}.gtbundle`];
    expect(diff(native, desired, o, { bundle: B, runtime: R })).toEqual([]);
    // A copy older than the previous one still goes.
    o.extraBundles = [`${"0".repeat(64)}.gtbundle`, `${P}.gtbundle`];
    expect(list(diff(native, desired, o, { bundle: B, runtime: R }))).toEqual([
      `delete bundle /var/lib/greentic/a/bundles/${"0".repeat(64)}.gtbundle`,
      "update state /var/lib/greentic/a/state/single-vm-state.json",
    ]);
  });

  it("switching to Quadlet container mode deletes the native service file", () => {
    const container = spec({ image: "localhost/rt:1" });
    const next = renderDesiredState(container, {
      bundleDigest: B,
      container: { quadlet: true, enginePath: "/usr/bin/podman", user: "990:990" },
    });
    const o = applied(native);
    o.dirs = { ...o.dirs, ...Object.fromEntries(next.dirs.map((d) => [d.path, o.dirs[d.path] ?? null])) };
    const actions = list(diff(container, next, o, { bundle: B }));
    expect(actions).toContain("create file /etc/containers/systemd/greentic-a.container");
    expect(actions).toContain("delete file /etc/systemd/system/greentic-a.service");
    expect(actions).toContain("restart unit greentic-a.service");
    expect(actions).not.toContain("update unit greentic-a.service"); // Quadlet units cannot be enabled
  });
});
