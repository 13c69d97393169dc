import { resolve } from "node:path";
import * as Flags from "@oclif/core/flags";
import { optionalEnvArg } from "../../lib/args.js";
import { MutatingCommand, answersFlags, idempotencyFlag, preconditionFlags } from "../../lib/mutating.js";

export default class EnvInit extends MutatingCommand<typeof EnvInit> {
  static override summary = "Create (or heal) an environment bound to the local default env-packs.";
  static override description =
    "Idempotent: an environment that already has every default binding is left untouched (nothing written, nothing audited); one missing some of the five bindings the reference also makes is healed. The revocation binding, ours only, is added to an existing environment (one the reference created) only with --heal. The environment id defaults to local.";
  static override examples = [
    "<%= config.bin %> env init",
    "<%= config.bin %> env init staging --public-url https://staging.example.com",
    "<%= config.bin %> env init --answers init.yaml",
    "<%= config.bin %> env init prod --deployer single-vm --spec /etc/greentic/acme/deployment.yaml",
    "<%= config.bin %> env init prod --deployer single-vm --spec deployment.yaml --ssh root@vm1.example.com --known-hosts vm1.known_hosts",
  ];
  static override answersKey = "env init";
  static override args = { env: optionalEnvArg };
  static override flags = {
    ...answersFlags,
    "public-url": Flags.string({
      description: "Public base URL (public_base_url), applied only when the environment is created.",
      helpValue: "URL",
    }),
    heal: Flags.boolean({
      description: "Also bind the default slots only this implementation adds (revocation) to an existing environment.",
    }),
    env: Flags.string({
      char: "e",
      description: "Environment id (environment_id), as the positional.",
      helpValue: "ENV",
    }),
    deployer: Flags.string({
      description:
        "Deployer to bind (deployer): local-process (default) or single-vm, which deploys to this VM as --spec describes.",
      options: ["local-process", "single-vm"],
    }),
    spec: Flags.string({
      description: "With --deployer single-vm: the VM's DeploymentSpec file (spec_path, absolute).",
      helpValue: "FILE",
    }),
    ssh: Flags.string({
      description:
        "With --deployer single-vm: drive the VM over SSH from this machine (ssh); deploys, traffic changes and destroy then run on it. --spec is then a file of this machine.",
      helpValue: "USER@HOST[:PORT]",
    }),
    "known-hosts": Flags.string({
      description: "With --ssh: known_hosts file pinning the VM's host key (known_hosts); required with --ssh.",
      helpValue: "FILE",
    }),
    identity: Flags.string({
      description: "With --ssh: the private key to log in with (identity).",
      helpValue: "FILE",
    }),
    ...idempotencyFlag,
    ...preconditionFlags,
  };

  override async run(): Promise<void> {
    if (await this.handledSchema()) return;
    // `--env` is the positional's flag form (`op env init --env prod --deployer single-vm ...`).
    if (this.flags.env !== undefined) this.args = { ...this.args, env: this.flags.env };
    const payload = await this.payload({
      heal: this.flags.heal ? true : undefined,
      spec_path: this.flags.spec === undefined ? undefined : resolve(this.flags.spec),
      known_hosts: this.flags["known-hosts"] === undefined ? undefined : resolve(this.flags["known-hosts"]),
      identity: this.flags.identity === undefined ? undefined : resolve(this.flags.identity),
    });
    const { ops, ctx } = await this.ops();
    const r = await ops.envInit(ctx, payload, this.mutationOptions());
    this.done(r, () => {
      const id = r.environment_id;
      const vm = (r as { deployer?: string }).deployer ? `; deployer ${(r as { deployer?: string }).deployer}` : "";
      if (r.outcome === "created" && vm) return `Created environment ${id} with ${r.pack_count} env-packs${vm}.`;
      if (vm) return `Bound environment ${id}${vm}.`;
      if (r.outcome === "created")
        return `Created environment ${id} with ${r.pack_count} env-packs (${r.bound_slots.join(", ")}).`;
      if (r.outcome === "healed") return `Healed environment ${id}: bound ${(r.added_slots ?? []).join(", ")}.`;
      if (r.healable_slots !== undefined)
        return `Environment ${id} is already initialised; nothing to do (pass --heal to also bind ${r.healable_slots.join(", ")}).`;
      return `Environment ${id} is already initialised; nothing to do.`;
    });
  }
}
