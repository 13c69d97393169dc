import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import type { DeploymentSpec } from "@greentic/deploy-spec";
import type { ApplyResult, SingleVmPlan } from "@greentic/adapter-single-vm";
import {
  SingleVmCommand,
  applyProgress,
  ociRuntimeFlag,
  renderApplyResult,
  rootFlag,
  specFlag,
  sshFlags,
} from "../../lib/single-vm.js";

/** Renders an apply or rollback result for humans. */
export default class SingleVmApply extends SingleVmCommand<typeof SingleVmApply> {
  static override summary = "Make the host match a DeploymentSpec, or apply a saved plan.";
  static override description =
    `Creates the service user and directories, generates the admin mTLS certificates if absent, copies and verifies the bundle, writes the units and the runtime's environment file atomically, reloads systemd and restarts only what changed, then waits for the readiness path over mTLS (up to spec.health.startupTimeoutSeconds; progress on stderr). On timeout the tail of the unit's journal is printed and apply exits 1. A second apply with nothing changed does nothing and restarts nothing.

Given a saved plan (positional, or --plan) it applies exactly that plan and refuses it with exit 3 ("plan is stale: ...") when the host, the spec or the bundle changed since \`op single-vm plan --out\` made it. The positional file is a plan or a spec, recognised from its content.

Needs root on the real host. --root renders everything under a staging directory instead and executes nothing.`;
  static override examples = [
    {
      description: "Apply a spec (what cloud-init runs at first boot)",
      command: "sudo <%= config.bin %> single-vm apply --spec /etc/greentic/acme/deployment.yaml",
    },
    {
      description: "Apply a reviewed plan; refused if the host changed since",
      command: "sudo <%= config.bin %> single-vm apply plan.json",
    },
    {
      description: "Render into a staging root for an image build",
      command: "<%= config.bin %> single-vm apply --spec deployment.yaml --root ./image-root",
    },
  ];
  static override args = {
    file: Args.string({ description: "A saved plan (from plan --out) or a DeploymentSpec file." }),
  };
  static override flags = {
    spec: specFlag,
    plan: Flags.string({
      char: "p",
      description: "A plan saved by `op single-vm plan --out FILE`.",
      helpValue: "FILE",
    }),
    root: rootFlag,
    "oci-runtime": ociRuntimeFlag,
    ...sshFlags,
  };

  /** The spec or saved plan to apply, from exactly one of the positional, --spec and --plan. */
  private async input(): Promise<DeploymentSpec | SingleVmPlan> {
    const { file } = this.args;
    const { spec, plan } = this.flags;
    const given = [
      file !== undefined && file,
      spec !== undefined && `--spec ${spec}`,
      plan !== undefined && `--plan ${plan}`,
    ].filter(Boolean);
    if (given.length === 0)
      this.usage(
        "op single-vm apply needs a spec (--spec FILE) or a saved plan (PLAN or --plan FILE)",
        "`op single-vm init-spec --out deployment.yaml` writes a commented spec",
      );
    if (given.length > 1) this.usage(`give one of a spec or a plan, not ${given.join(" and ")}`);
    const { loadPlan, loadSpecOrPlan } = await import("@greentic/adapter-single-vm");
    if (plan !== undefined) return loadPlan(plan);
    if (spec !== undefined) return this.spec();
    return loadSpecOrPlan(file!);
  }

  override async run(): Promise<void> {
    if (this.flags.host !== undefined && this.args.file !== undefined)
      this.usage("with --host give the spec as --spec FILE", "saved plans are applied on the machine that made them");
    if (await this.overSsh("apply", ["oci-runtime"], ["plan"])) return;
    const input = await this.input();
    const options = this.adapterOptions();
    const { applyDeployment } = await import("@greentic/adapter-single-vm");
    const name = "metadata" in input ? input.metadata.name : input.deployment;
    this.progress(
      `Applying ${name}${options.root ? ` under staging root ${options.root} (nothing is executed)` : ""}...`,
    );
    const progress = applyProgress((line) => this.progress(line));
    let result: ApplyResult;
    try {
      result = await applyDeployment(input, { ...options, onProgress: progress.onProgress });
    } finally {
      progress.stop();
    }
    this.done(result, () => renderApplyResult(result, options.root));
  }
}
