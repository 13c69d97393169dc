import * as Errors from "@oclif/core/errors";
import * as Flags from "@oclif/core/flags";
import {
  SingleVmCommand,
  ociRuntimeFlag,
  rootFlag,
  specArg,
  specFlag,
  sshFlags,
  writeAtomic,
} from "../../lib/single-vm.js";

export default class SingleVmPlan extends SingleVmCommand<typeof SingleVmPlan> {
  static override summary = "Show what apply would change on this host (or a staging root), without changing anything.";
  static override description =
    `Observes the host (generated files and their hashes, unit states, the bundle mount, certificates, the state file) and lists the ordered actions apply would take, each with its reason. Nothing is written except the --out file.

--out saves the plan with a fingerprint of the observed host and the spec and bundle digests; \`op single-vm apply PLAN\` applies exactly that plan and refuses it (exit 3, "plan is stale: ...") when the host, spec or bundle changed since.

Exit codes: 0 ok, 2 invalid spec or usage, 4 the bundle or runtime file named by the spec does not exist. With --detailed-exitcode the codes follow Terraform instead: 0 no changes, 2 changes pending, 1 any error (invalid input included; the error's kind is still in the message and in the --json error envelope).

Under --root, unit states cannot be observed, so the mount and service restarts are always planned.`;
  static override examples = [
    {
      description: "Preview the changes on this host",
      command: "<%= config.bin %> single-vm plan --spec /etc/greentic/acme/deployment.yaml",
    },
    {
      description: "Save the plan, review it, then apply exactly that",
      command:
        "<%= config.bin %> single-vm plan --spec deployment.yaml --out plan.json && <%= config.bin %> single-vm apply plan.json",
    },
    {
      description: "CI gate: exit 2 when the host differs from the spec",
      command: "<%= config.bin %> single-vm plan --spec deployment.yaml --detailed-exitcode",
    },
    {
      description: "Render into a staging root (executes nothing)",
      command: "<%= config.bin %> single-vm plan --spec deployment.yaml --root ./stage --json",
    },
  ];
  static override args = { spec: specArg };
  static override flags = {
    spec: specFlag,
    out: Flags.string({
      char: "o",
      description: "Save the plan (JSON) to FILE for `op single-vm apply FILE`.",
      helpValue: "FILE",
    }),
    "detailed-exitcode": Flags.boolean({
      description:
        "Exit 0 when there are no changes, 2 when changes are pending, 1 on any error (Terraform's convention).",
    }),
    root: rootFlag,
    "oci-runtime": ociRuntimeFlag,
    ...sshFlags,
  };

  override async run(): Promise<void> {
    if (await this.overSsh("plan", ["detailed-exitcode", "oci-runtime"], ["out"])) return;
    const spec = await this.spec();
    const options = this.adapterOptions();
    const { planDeployment, savePlan } = await import("@greentic/adapter-single-vm");
    const plan = await planDeployment(spec, options);
    if (this.flags.out !== undefined) await writeAtomic(this.flags.out, savePlan(plan));
    const result = this.flags.out === undefined ? plan : { ...plan, savedTo: this.flags.out };
    this.done(result, () => {
      let out = `${this.stagingNote(options.root)}${plan.summary}\n`;
      if (this.flags.out !== undefined)
        out += `Saved the plan to ${this.flags.out}; apply it with: op single-vm apply ${this.flags.out}${options.root ? ` --root ${options.root}` : ""}\n`;
      return out;
    });
    if (this.flags["detailed-exitcode"]) this.exitStatus({ exit: plan.exitCode });
  }

  /** Under --detailed-exitcode every error exits 1: 2 means "changes pending" there. */
  override async catch(err: Error & { oclif?: { exit?: number } }): Promise<never> {
    try {
      return await super.catch(err);
    } catch (exit) {
      const detailed = this.argv
        .slice(0, this.argv.includes("--") ? this.argv.indexOf("--") : undefined)
        .includes("--detailed-exitcode");
      if (detailed && exit instanceof Errors.ExitError && exit.oclif.exit !== 0) {
        process.exitCode = 1;
        Errors.exit(1);
      }
      throw exit;
    }
  }
}
