import { fields } from "../../lib/render.js";
import { SingleVmCommand, rootFlag, specArg, specFlag, sshFlags } from "../../lib/single-vm.js";

export default class SingleVmStatus extends SingleVmCommand<typeof SingleVmStatus> {
  static override summary = "Show a deployment's units, bundle mount, readiness over mTLS, drift and bundle digest.";
  static override description =
    `status is "applied" when the last apply succeeded, no generated file drifted, the service is active, the bundle is mounted read-only with the recorded digest and the readiness path answers 200 over mTLS; "degraded" otherwise; "not-installed" when nothing is there. Read-only; exits 0 whatever the status (read it from the output or result.status).

Under --root only the state file and drift can be checked (no units, mount or readiness).`;
  static override examples = [
    "<%= config.bin %> single-vm status --spec /etc/greentic/acme/deployment.yaml",
    "<%= config.bin %> single-vm status --spec deployment.yaml --json",
    "<%= config.bin %> single-vm status --spec deployment.yaml --root ./stage",
  ];
  static override args = { spec: specArg };
  static override flags = { spec: specFlag, root: rootFlag, ...sshFlags };

  override async run(): Promise<void> {
    if (await this.overSsh("status", [])) return;
    const spec = await this.spec();
    const options = this.adapterOptions();
    const { deploymentStatus } = await import("@greentic/adapter-single-vm");
    const s = await deploymentStatus(spec, options);
    this.done(s, () => {
      const c = s.canary;
      if (c !== undefined) {
        const rows = c.revisions.map((r) =>
          [
            r.revision_id.padEnd(28),
            r.status.padEnd(8),
            r.active.padEnd(9),
            String(r.readiness ?? "-").padEnd(6),
            `${(r.recorded_weight_bps / 100).toString()}%`.padStart(7),
            (r.live_weight_bps === null ? "?" : `${r.live_weight_bps / 100}%`).padStart(7),
            String(r.requests ?? "-").padStart(9),
            String(r.errors_5xx ?? "-").padStart(6),
            (r.p99_ms === null ? "-" : `${r.p99_ms}ms`).padStart(7),
          ].join(" "),
        );
        return (
          this.stagingNote(options.root) +
          fields([
            ["deployment", c.deployment],
            ["status", c.status],
            ["proxy", `${c.proxy.active} (${c.proxy.unit}), ${c.proxy.url}`],
            ["metrics", `${c.proxy.metrics_url} (loopback only)`],
            ["drift", c.drift ? "the proxy's live split differs from the recorded one" : "none"],
          ]) +
          `\n${["revision".padEnd(28), "status".padEnd(8), "unit".padEnd(9), "ready".padEnd(6), "split".padStart(7), "live".padStart(7), "requests".padStart(9), "5xx".padStart(6), "p99".padStart(7)].join(" ")}\n${rows.join("\n")}`
        );
      }
      const readiness =
        s.readiness === null
          ? undefined
          : "status" in s.readiness
            ? `${s.readiness.status}`
            : `error: ${s.readiness.error}`;
      return (
        this.stagingNote(options.root) +
        fields([
          ["deployment", s.deployment],
          ["status", s.status],
          ["service", s.units ? `${s.units.service.active} (${s.units.service.enabled})` : undefined],
          [
            "mount",
            s.units
              ? `${s.units.mount.active}${s.mount ? `, ${s.mount.readOnly ? "read-only" : "WRITABLE"} from ${s.mount.source}` : ""}`
              : undefined,
          ],
          ["readiness", readiness],
          ["main pid", s.mainPid ?? undefined],
          ["bundle", s.bundleDigest],
          ["mounted bundle", s.mountedBundleDigest],
          [
            "last result",
            s.state
              ? `${s.state.lastResult.action} ${s.state.lastResult.ok ? "ok" : "FAILED"} at ${s.state.lastResult.at}${s.state.lastResult.message ? `: ${s.state.lastResult.message}` : ""}`
              : undefined,
          ],
          ["drift", s.drift.length === 0 ? "none" : s.drift.map((d) => `${d.path} ${d.problem}`).join(", ")],
        ])
      );
    });
  }
}
