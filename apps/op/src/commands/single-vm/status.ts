import { fields } from "../../lib/render.js";
import { SingleVmCommand, rootFlag, specArg, specFlag } from "../../lib/single-vm.js";

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
  static override flags = { spec: specFlag, root: rootFlag };

  override async run(): Promise<void> {
    const spec = await this.spec();
    const options = this.adapterOptions();
    const { deploymentStatus } = await import("@greentic/adapter-single-vm");
    const s = await deploymentStatus(spec, options);
    this.done(s, () => {
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
