import { OpCommand } from "../../lib/base.js";

export default class SingleVmRemoteCall extends OpCommand<typeof SingleVmRemoteCall> {
  static override hidden = true;
  static override summary =
    "Serve one deployer call of an environment bound to this VM over SSH (run by the operator's op, not by hand).";
  static override description =
    "Reads one JSON envelope line on stdin (for an upload, the file's bytes follow it), makes the call with the single-VM deployer of this machine and answers one JSON line on stdout. The operator's op runs it through ssh (through `sudo -n` for a login other than root).";
  static override examples = ["<%= config.bin %> single-vm remote-call < envelope.json"];

  override async run(): Promise<void> {
    const { serveRemoteCall, singleVmDeployerHandler } = await import("@greentic/adapter-single-vm");
    const { line, code } = await serveRemoteCall({
      input: process.stdin,
      opVersion: this.config.version,
      handler: singleVmDeployerHandler(),
    });
    process.stdout.write(line);
    this.exitStatus({ exit: code });
  }
}
