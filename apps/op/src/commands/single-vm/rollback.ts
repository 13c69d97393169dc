import type { ApplyResult } from "@greentic/adapter-single-vm";
import {
  SingleVmCommand,
  applyProgress,
  ociRuntimeFlag,
  renderApplyResult,
  rootFlag,
  specArg,
  specFlag,
  sshFlags,
} from "../../lib/single-vm.js";

export default class SingleVmRollback extends SingleVmCommand<typeof SingleVmRollback> {
  static override summary = "Return to the bundle deployed before the current one.";
  static override description =
    `apply keeps the previous bundle on the host; rollback mounts it again (recreate: the service stops, the mount switches, the service starts) and waits for readiness like apply. The spec's other settings stay as they are. Exits 4 when there is no previous bundle (it needs two successful applies with different bundles).`;
  static override examples = [
    "sudo <%= config.bin %> single-vm rollback --spec /etc/greentic/acme/deployment.yaml",
    "<%= config.bin %> single-vm rollback --spec deployment.yaml --root ./stage --json",
  ];
  static override args = { spec: specArg };
  static override flags = { spec: specFlag, root: rootFlag, "oci-runtime": ociRuntimeFlag, ...sshFlags };

  override async run(): Promise<void> {
    if (await this.overSsh("rollback", ["oci-runtime"])) return;
    const spec = await this.spec();
    const options = this.adapterOptions();
    const { rollbackDeployment } = await import("@greentic/adapter-single-vm");
    this.progress(
      `Rolling back ${spec.metadata.name}${options.root ? ` under staging root ${options.root} (nothing is executed)` : ""}...`,
    );
    const progress = applyProgress((line) => this.progress(line));
    let result: ApplyResult;
    try {
      result = await rollbackDeployment(spec, { ...options, onProgress: progress.onProgress });
    } finally {
      progress.stop();
    }
    this.done(result, () => renderApplyResult(result, options.root));
  }
}
