import * as Flags from "@oclif/core/flags";
import { OpCommand } from "../../lib/base.js";
import { CliInputError } from "../../lib/errors.js";
import { writeAtomic } from "../../lib/single-vm.js";

export default class SingleVmInitSpec extends OpCommand<typeof SingleVmInitSpec> {
  static override summary = "Write a commented DeploymentSpec with every default spelled out.";
  static override description =
    "Prints the spec on stdout, or writes it to --out (never over an existing file unless --force). Commented lines show the defaults; uncomment one to change it. Then point spec.bundle.source at your .gtbundle and, in native mode, spec.runtime.binary at the runtime, and run `op single-vm plan --spec FILE`.";
  static override examples = [
    "<%= config.bin %> single-vm init-spec --out deployment.yaml",
    "<%= config.bin %> single-vm init-spec --name shop --mode container > shop.yaml",
    "<%= config.bin %> single-vm init-spec --out deployment.yaml --force",
  ];
  static override flags = {
    out: Flags.string({ char: "o", description: "Write the spec to FILE instead of stdout.", helpValue: "FILE" }),
    force: Flags.boolean({ description: "Overwrite --out if it exists." }),
    name: Flags.string({
      description: "Deployment name (metadata.name): names the units and directories.",
      default: "my-app",
      helpValue: "NAME",
    }),
    mode: Flags.string({
      description: "native: the runtime executable under systemd; container: one Podman/Docker container.",
      options: ["native", "container"],
      default: "native",
    }),
  };

  override async run(): Promise<void> {
    const { renderInitSpec } = await import("@greentic/adapter-single-vm");
    const { GreenticError } = await import("@greentic/deploy-spec/errors");
    const { parseDeploymentSpec } = await import("@greentic/deploy-spec/deployment-spec-text");
    const text = renderInitSpec({ name: this.flags.name, mode: this.flags.mode as "native" | "container" });
    // The name is the only input: a spec that does not parse means the name was refused.
    const check = parseDeploymentSpec(text, { source: "--name" });
    if (!check.ok) {
      const issue = check.issues.find((i) => i.path === "metadata.name") ?? check.issues[0];
      throw new CliInputError(
        "invalid-argument",
        `--name ${JSON.stringify(this.flags.name)}: ${issue?.message ?? check.summary}`,
        "use lower-case letters, digits and '-'",
        "metadata.name",
      );
    }
    const out = this.flags.out;
    if (out !== undefined) {
      try {
        // A text file ends with a newline, as the stdout form does.
        await writeAtomic(out, text.endsWith("\n") ? text : `${text}\n`, { exclusive: !this.flags.force });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        throw new GreenticError("conflict", `${out} already exists`, {
          path: out,
          hint: "pass --force to overwrite it, or choose another --out",
        });
      }
    }
    this.done(
      { spec: text, ...(out === undefined ? {} : { out }) },
      out === undefined
        ? text
        : `Wrote ${out}. Next: edit spec.bundle.source${this.flags.mode === "native" ? " and spec.runtime.binary" : " and spec.runtime.image"}, then run: op single-vm plan --spec ${out}`,
    );
  }
}
