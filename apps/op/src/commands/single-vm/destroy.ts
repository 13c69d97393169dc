import * as Flags from "@oclif/core/flags";
import { SingleVmCommand, rootFlag, specArg, specFlag, sshFlags } from "../../lib/single-vm.js";

export default class SingleVmDestroy extends SingleVmCommand<typeof SingleVmDestroy> {
  static override summary = "Stop and remove a deployment from the host; data is kept unless --purge.";
  static override description =
    `Stops and disables the service and the bundle mount, removes the unit files, the runtime's environment file, the bundle copies and the state file, and reloads systemd. The state, cache, log and temp directories, the admin certificates and the configuration directory stay unless --purge. Idempotent: destroying again is not an error. Needs --confirm.`;
  static override examples = [
    {
      description: "Remove the deployment, keep its data",
      command: "sudo <%= config.bin %> single-vm destroy --spec /etc/greentic/acme/deployment.yaml --confirm",
    },
    {
      description: "Remove everything, data and certificates included",
      command: "sudo <%= config.bin %> single-vm destroy --spec deployment.yaml --confirm --purge",
    },
    {
      description: "Remove what a staged apply rendered",
      command: "<%= config.bin %> single-vm destroy --spec deployment.yaml --root ./stage --confirm --json",
    },
  ];
  static override args = { spec: specArg };
  static override flags = {
    spec: specFlag,
    confirm: Flags.boolean({ description: "Confirm the destruction (required)." }),
    purge: Flags.boolean({
      description:
        "Also remove the data directories (state, cache, log, temp), the admin certificates and the configuration.",
    }),
    root: rootFlag,
    ...sshFlags,
  };

  override async run(): Promise<void> {
    const spec = await this.spec();
    const options = this.adapterOptions();
    if (!this.flags.confirm)
      this.usage(
        `destroying deployment ${spec.metadata.name} needs --confirm`,
        `re-run with --confirm${this.flags.purge ? " (--purge also deletes its data)" : ""}`,
      );
    if (await this.overSsh("destroy", ["confirm", "purge"])) return;
    const { destroyDeployment } = await import("@greentic/adapter-single-vm");
    this.progress(`Destroying ${spec.metadata.name}${options.root ? ` under staging root ${options.root}` : ""}...`);
    const r = await destroyDeployment(spec, { ...options, purge: this.flags.purge });
    this.done(r, () => {
      let out = `${this.stagingNote(options.root)}${r.summary}\n`;
      for (const p of r.removed) out += `  removed ${p}\n`;
      if (r.kept.length > 0 && !this.flags.purge) out += `Kept (--purge removes them): ${r.kept.join(", ")}\n`;
      if (options.root && r.commands.length > 0)
        out += `A real destroy would run:\n${r.commands.map((c) => `  ${c}`).join("\n")}\n`;
      return out;
    });
  }
}
