import { DEPLOYMENT_SPEC_DEFAULTS as D } from "@greentic/deploy-spec";

export interface InitSpecOptions {
  /** `metadata.name`. Default `my-app`. */
  name?: string;
  /** `native` (default) or `container`. */
  mode?: "native" | "container";
}

/**
 * A commented DeploymentSpec v1 with every default spelled out (`op single-vm init-spec`).
 * Commented-out lines show the defaults; uncomment to change them.
 */
export function renderInitSpec(options: InitSpecOptions = {}): string {
  const name = options.name ?? "my-app";
  const sub = (t: string) => t.replace("<name>", name);
  const runtime =
    options.mode === "container"
      ? [
          "    # Container mode: one container per deployment, read-only root, bundle mounted :ro.",
          "    image: localhost/greentic-runtime:0.1.0",
          `    # engine: ${D.engine}            # or docker`,
        ]
      : [
          "    # Native mode (default): the runtime executable run by systemd with hardening.",
          "    binary: /opt/greentic/runtime/bin.js",
          `    # node: ${D.node}      # Node.js that runs a .js runtime (>= 22)`,
        ];
  return [
    "# Greentic single-VM deployment spec (DeploymentSpec v1).",
    "# Validate and preview: op single-vm plan --spec THIS_FILE",
    "apiVersion: greentic.ai/v1alpha1",
    "kind: Deployment",
    "metadata:",
    `  name: ${name}                # names units (greentic-${name}.service) and directories`,
    "spec:",
    `  target: ${D.target}`,
    "  bundle:",
    `    source: file:///opt/greentic/bundles/${name}.gtbundle`,
    `    format: ${D.bundleFormat}`,
    `    # mountPath: ${sub(D.bundleMountPath)}   # read-only squashfs mount`,
    "  runtime:",
    ...runtime,
    `    arch: ${D.arch}               # the only server architecture in v1`,
    `    # publicBind: ${D.publicBind}   # the runtime's public listener`,
    "    admin:",
    `      bind: ${D.adminBind}      # loopback only: 127.0.0.1, [::1] or localhost, any port`,
    "      mtls:                     # generated at first apply when absent",
    `        caFile: ${sub(D.caFile)}`,
    `        certFile: ${sub(D.certFile)}`,
    `        keyFile: ${sub(D.keyFile)}`,
    "  storage:                      # writable, distinct, outside the bundle mount",
    `    stateDir: ${sub(D.stateDir)}`,
    `    cacheDir: ${sub(D.cacheDir)}`,
    `    logDir: ${sub(D.logDir)}`,
    `    tempDir: ${sub(D.tempDir)}`,
    "  service:",
    `    manager: ${D.manager}`,
    `    user: ${D.user}               # created by apply if missing (never root)`,
    `    group: ${D.group}`,
    "  health:",
    `    readinessPath: ${D.readinessPath}`,
    `    livenessPath: ${D.livenessPath}`,
    `    startupTimeoutSeconds: ${D.startupTimeoutSeconds}  # apply waits this long for readiness`,
    "  rollout:",
    `    strategy: ${D.strategy}         # stop old, start new; rollback returns to the previous bundle`,
    "",
  ].join("\n");
}
