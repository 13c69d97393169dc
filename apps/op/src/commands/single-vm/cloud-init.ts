import { Flags } from "@oclif/core";
import type { CloudInitArtifact } from "@greentic/adapter-single-vm";
import { SingleVmCommand, specArg, specFlag } from "../../lib/single-vm.js";

const ARTIFACTS = ["bundle", "node", "cli", "runtime"] as const;
type ArtifactName = (typeof ARTIFACTS)[number];

const EXAMPLE_SHA = "<64 hex>";

export default class SingleVmCloudInit extends SingleVmCommand<typeof SingleVmCloudInit> {
  static override summary = "Print a #cloud-config that provisions a fresh Debian or Ubuntu VM for a spec.";
  static override description =
    `The document installs the packages (squashfs-tools, curl, ...; podman in container mode), creates the service user, writes sysctl hardening and the spec (/etc/greentic/<name>/deployment.yaml), downloads every artifact over HTTPS and checks its SHA-256 before use, installs Node.js and the op CLI, runs \`op single-vm apply --spec /etc/greentic/<name>/deployment.yaml\` on first boot and finishes with a readiness check over mTLS. It passes \`cloud-init schema --config-file\`.

Artifacts, each as --artifact NAME=URL@sha256:HEX (HTTPS only):
  bundle   the .gtbundle, installed where spec.bundle.source points
  node     the official Node.js linux-x64 .tar.xz (22 or newer)
  cli      the op CLI as an npm tarball (npm pack of @greentic/op)
  runtime  native mode only: the runtime executable, installed where spec.runtime.binary points`;
  static override examples = [
    {
      description: "User data for a native-mode VM",
      command: `<%= config.bin %> single-vm cloud-init --spec deployment.yaml --artifact bundle=https://dl.example.com/acme-1.4.0.gtbundle@sha256:${EXAMPLE_SHA} --artifact node=https://nodejs.org/dist/v22.12.0/node-v22.12.0-linux-x64.tar.xz@sha256:${EXAMPLE_SHA} --artifact cli=https://dl.example.com/greentic-op-0.1.0.tgz@sha256:${EXAMPLE_SHA} --artifact runtime=https://dl.example.com/greentic-runtime-0.1.0.js@sha256:${EXAMPLE_SHA} > user-data.yaml`,
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
    const missing = ARTIFACTS.filter((n) => !a[n] && (n !== "runtime" || native));
    if (missing.length > 0) {
      this.usage(
        `cloud-init needs the ${missing.join(", ")} artifact${missing.length > 1 ? "s" : ""}${native && missing.includes("runtime") ? " (native mode runs the runtime executable)" : ""}`,
        `pass each as --artifact NAME=URL@sha256:HEX (see --help)`,
      );
    }
    if (!native && a.runtime)
      this.usage("--artifact runtime is for native mode; this spec runs a container image (spec.runtime.image)");
    const { renderCloudInit } = await import("@greentic/adapter-single-vm");
    const document = renderCloudInit(spec, {
      artifacts: { bundle: a.bundle!, node: a.node!, cli: a.cli!, runtime: a.runtime },
      ...(packages ? { packages } : {}),
    });
    this.done({ document }, document);
  }
}
