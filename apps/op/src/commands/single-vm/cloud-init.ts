import * as Flags from "@oclif/core/flags";
import type { CloudInitArtifact } from "@greentic/adapter-single-vm";
import { SingleVmCommand, specArg, specFlag } from "../../lib/single-vm.js";

const ARTIFACTS = ["op", "bundle", "runtime", "image"] as const;
type ArtifactName = (typeof ARTIFACTS)[number];

const EXAMPLE_SHA = "<64 hex>";

export default class SingleVmCloudInit extends SingleVmCommand<typeof SingleVmCloudInit> {
  static override summary =
    "Print a #cloud-config that provisions a fresh Debian or Ubuntu VM for a spec from the release artifacts.";
  static override description =
    `The document installs the packages (squashfs-tools, curl, ca-certificates; podman in container mode), creates the service user, writes sysctl hardening and the spec (/etc/greentic/<name>/deployment.yaml), and runs one first-boot script: it downloads every artifact and checks its SHA-256 (nothing is installed unless every digest matches), installs the op executable as /usr/local/bin/op and the runtime executable at spec.runtime.binary (or loads the image archive and tags it spec.runtime.image), runs \`op single-vm apply --spec /etc/greentic/<name>/deployment.yaml\` and ends with a readiness check over mTLS. Any failure fails the boot: \`cloud-init status --long\` reports an error and /var/log/cloud-init-output.log names the cause (a digest mismatch names the expected and actual SHA-256). No Node.js and no npm are installed on the VM. It passes \`cloud-init schema --config-file\`.

Artifacts, each as --artifact NAME=URL@sha256:HEX (HTTPS, or HTTP to a loopback address), from \`pnpm release\`:
  op       op-linux-x64, the op executable
  bundle   the .gtbundle, installed where spec.bundle.source points
  runtime  native mode: greentic-runtime-linux-x64, installed where spec.runtime.binary points
  image    container mode: greentic-runtime-image-linux-x64.oci.tar, loaded with podman load`;
  static override examples = [
    {
      description: "User data for a native-mode VM (digests from the release's SHA256SUMS)",
      command: `<%= config.bin %> single-vm cloud-init --spec deployment.yaml --artifact op=https://dl.example.com/0.1.0/op-linux-x64@sha256:${EXAMPLE_SHA} --artifact runtime=https://dl.example.com/0.1.0/greentic-runtime-linux-x64@sha256:${EXAMPLE_SHA} --artifact bundle=https://dl.example.com/acme-1.4.0.gtbundle@sha256:${EXAMPLE_SHA} > user-data.yaml`,
    },
    {
      description: "User data for a container-mode VM",
      command: `<%= config.bin %> single-vm cloud-init --spec deployment.yaml --artifact op=https://dl.example.com/0.1.0/op-linux-x64@sha256:${EXAMPLE_SHA} --artifact image=https://dl.example.com/0.1.0/greentic-runtime-image-linux-x64.oci.tar@sha256:${EXAMPLE_SHA} --artifact bundle=https://dl.example.com/acme-1.4.0.gtbundle@sha256:${EXAMPLE_SHA} > user-data.yaml`,
    },
    { description: "Check the result", command: "cloud-init schema --config-file user-data.yaml" },
    {
      description: "Pin a package version",
      command: `<%= config.bin %> single-vm cloud-init --spec deployment.yaml --package squashfs-tools=1:4.5.1-1 --artifact ... > user-data.yaml`,
    },
  ];
  static override args = { spec: specArg };
  static override flags = {
    spec: specFlag,
    artifact: Flags.string({
      char: "a",
      description: `A file to download at first boot: NAME=URL@sha256:HEX, NAME one of ${ARTIFACTS.join(", ")}. Repeat for each.`,
      helpValue: "NAME=URL@sha256:HEX",
      multiple: true,
    }),
    package: Flags.string({
      description: "An extra Debian/Ubuntu package, NAME or NAME=VERSION to pin it. Repeat for each.",
      helpValue: "NAME[=VERSION]",
      multiple: true,
    }),
  };

  private artifacts(): Partial<Record<ArtifactName, CloudInitArtifact>> {
    const out: Partial<Record<ArtifactName, CloudInitArtifact>> = {};
    for (const raw of this.flags.artifact ?? []) {
      const eq = raw.indexOf("=");
      const at = raw.lastIndexOf("@");
      const name = raw.slice(0, eq) as ArtifactName;
      if (eq <= 0 || at < eq)
        this.usage(
          `--artifact ${raw}: expected NAME=URL@sha256:HEX`,
          `e.g. --artifact bundle=https://dl.example.com/app.gtbundle@sha256:${EXAMPLE_SHA}`,
        );
      if (!ARTIFACTS.includes(name))
        this.usage(`--artifact ${raw}: unknown artifact "${name}"`, `NAME is one of ${ARTIFACTS.join(", ")}`);
      if (out[name]) this.usage(`--artifact ${name} is given twice`);
      out[name] = { url: raw.slice(eq + 1, at), sha256: raw.slice(at + 1).replace(/^sha256:/, "") };
    }
    return out;
  }

  private packages(): Record<string, string | null> | undefined {
    if (!this.flags.package) return undefined;
    return Object.fromEntries(
      this.flags.package.map((p) => {
        const [name, version] = p.split("=", 2);
        if (!name || !/^[a-z0-9][a-z0-9+.-]+$/.test(name)) this.usage(`--package ${p}: not a Debian package name`);
        return [name, version || null];
      }),
    );
  }

  override async run(): Promise<void> {
    const spec = await this.spec();
    const { deploymentMode } = await import("@greentic/deploy-spec");
    const a = this.artifacts();
    const packages = this.packages();
    const native = deploymentMode(spec) === "native";
    const modeArtifact = native ? "runtime" : "image";
    const missing = ARTIFACTS.filter((n) => !a[n] && (n === "op" || n === "bundle" || n === modeArtifact));
    if (missing.length > 0) {
      this.usage(
        `cloud-init needs the ${missing.join(", ")} artifact${missing.length > 1 ? "s" : ""}${missing.includes(modeArtifact) ? (native ? " (native mode runs the runtime executable)" : " (container mode loads the runtime image)") : ""}`,
        `pass each as --artifact NAME=URL@sha256:HEX (see --help)`,
      );
    }
    if (!native && a.runtime)
      this.usage("--artifact runtime is for native mode; this spec runs a container image (spec.runtime.image)");
    if (native && a.image)
      this.usage("--artifact image is for container mode; this spec runs the runtime executable (spec.runtime.binary)");
    const { renderCloudInit } = await import("@greentic/adapter-single-vm");
    const document = renderCloudInit(spec, {
      artifacts: { op: a.op!, bundle: a.bundle!, runtime: a.runtime, image: a.image },
      ...(packages ? { packages } : {}),
    });
    this.done({ document }, document);
  }
}
