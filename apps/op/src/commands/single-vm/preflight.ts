import { SingleVmCommand, specArg, specFlag, sshFlags } from "../../lib/single-vm.js";

export default class SingleVmPreflight extends SingleVmCommand<typeof SingleVmPreflight> {
  static override summary = "Check that this host can run a deployment; each failure says how to fix it.";
  static override description =
    `Checks: x86_64, systemd running, squashfs support and loop devices, squashfs-tools, Node.js >= 22 (native mode) or Podman/Docker and Quadlet (container mode), the admin port free (or held by this deployment), the service user present or creatable. Read-only. Exits 0 when every check passes and 1 when one fails (the report is printed either way; with --json it is the result on stdout).`;
  static override examples = [
    "<%= config.bin %> single-vm preflight --spec /etc/greentic/acme/deployment.yaml",
    "<%= config.bin %> single-vm preflight --spec deployment.yaml --json",
  ];
  static override args = { spec: specArg };
  static override flags = { spec: specFlag, ...sshFlags };

  override async run(): Promise<void> {
    if (await this.overSsh("preflight", [])) return;
    const spec = await this.spec();
    const { preflight } = await import("@greentic/adapter-single-vm");
    const r = await preflight(spec);
    this.done(r, () => {
      const width = Math.max(...r.checks.map((c) => c.name.length));
      const lines = r.checks.map(
        (c) =>
          `${c.ok ? "ok  " : "FAIL"}  ${c.name.padEnd(width)}  ${c.detail}${c.ok || !c.hint ? "" : `\n      fix: ${c.hint}`}`,
      );
      const failed = r.checks.filter((c) => !c.ok).length;
      lines.push(
        failed === 0
          ? `Preflight ok: ${r.checks.length} checks passed.`
          : `Preflight failed: ${failed} of ${r.checks.length} checks.`,
      );
      return lines.join("\n");
    });
    this.exitStatus({ failed: !r.ok });
  }
}
