import { deploymentMode, parseAdminBind, type DeploymentSpec } from "@greentic/deploy-spec";
import { hostPath } from "./executor.js";
import { exists, readText } from "./host-fs.js";
import { executorFor, lookupIds, observeUnits, quadletSupported, type PlanOptions } from "./plan.js";
import { layoutFor } from "./render.js";

export interface PreflightCheck {
  name: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** How to fix it (failures only). */
  hint?: string | undefined;
}

export interface PreflightResult {
  ok: boolean;
  checks: PreflightCheck[];
  summary: string;
}

/** Checks that the host can run this deployment. Each failure says how to fix it. Read-only. */
export async function preflight(spec: DeploymentSpec, options: PlanOptions = {}): Promise<PreflightResult> {
  const executor = executorFor(options);
  const checks: PreflightCheck[] = [];
  const add = (name: string, ok: boolean, detail: string, hint?: string) =>
    checks.push({ name, ok, detail, hint: ok ? undefined : hint });
  const sh = async (script: string) => executor.run("sh", ["-c", script]);

  const arch = (await executor.run("uname", ["-m"])).stdout.trim();
  add("architecture", arch === "x86_64", arch || "unknown", "single-vm v1 supports Linux x86_64 servers only");

  const running = await executor.run("systemctl", ["is-system-running"]);
  const state = running.stdout.trim();
  add(
    "systemd",
    ["running", "degraded"].includes(state),
    state ? `systemd is ${state}` : `systemctl failed: ${running.stderr.trim() || "not found"}`,
    state === ""
      ? "install systemd and boot with it as PID 1 (apt-get install systemd systemd-sysv)"
      : "wait for boot to finish, or fix the failed units (systemctl --failed)",
  );

  const filesystems = (await readText(hostPath(executor, "/proc/filesystems"))) ?? "";
  let squashfs = /\bsquashfs$/m.test(filesystems);
  if (!squashfs) squashfs = (await executor.run("modprobe", ["-n", "squashfs"])).code === 0;
  add(
    "squashfs",
    squashfs,
    squashfs ? "kernel supports squashfs" : "squashfs is neither in /proc/filesystems nor loadable",
    "install a kernel with squashfs (CONFIG_SQUASHFS) or its module package (linux-modules-extra-* on Ubuntu)",
  );
  const loop = await exists(hostPath(executor, "/dev/loop-control"));
  add(
    "loop devices",
    loop,
    loop ? "/dev/loop-control present" : "/dev/loop-control missing",
    "load the loop module: modprobe loop",
  );

  const tools = await sh("command -v unsquashfs");
  add(
    "squashfs-tools",
    tools.code === 0,
    tools.code === 0 ? tools.stdout.trim() : "unsquashfs not found",
    "apt-get install -y squashfs-tools",
  );

  if (deploymentMode(spec) === "container") {
    const engine = spec.spec.runtime.engine ?? "podman";
    const v =
      engine === "podman"
        ? await executor.run("podman", ["version", "--format", "{{.Client.Version}}"])
        : await executor.run("docker", ["version", "--format", "{{.Server.Version}}"]);
    const version = v.stdout.trim();
    add(
      engine,
      v.code === 0 && version !== "",
      v.code === 0
        ? `${engine} ${version}`
        : `${engine} not usable: ${(v.stderr || "not found").trim().split("\n")[0]}`,
      engine === "podman"
        ? "apt-get install -y podman (add runc where crun fails: apt-get install -y runc)"
        : "install Docker Engine and start it (systemctl enable --now docker)",
    );
    if (engine === "podman" && v.code === 0) {
      const quadlet = await quadletSupported(executor);
      add(
        "quadlet",
        true,
        quadlet
          ? "podman Quadlet available: a .container unit will be generated"
          : "no Quadlet (podman < 4.4): a .service wrapping podman run will be generated",
      );
    }
  } else if (/\.(c|m)?js$/.test(spec.spec.runtime.binary!)) {
    // Only a script runtime needs Node.js; the release's runtime executable carries its own.
    const node = spec.spec.runtime.node!;
    const v = await executor.run(node, ["--version"]);
    const major = Number(/^v(\d+)/.exec(v.stdout.trim())?.[1] ?? 0);
    add(
      "node",
      v.code === 0 && major >= 22,
      v.code === 0 ? `${node} ${v.stdout.trim()}` : `${node} not found`,
      `install Node.js 22 or newer at ${node} (or set spec.runtime.node)`,
    );
  }

  const { port } = parseAdminBind(spec.spec.runtime.admin.bind);
  const listening = await portListening(executor, port);
  const units = listening ? await observeUnits(executor, layoutFor(spec)) : null;
  const ours = units?.service.active === "active";
  add(
    "admin port",
    !listening || ours,
    !listening
      ? `port ${port} is free`
      : ours
        ? `port ${port} is used by this deployment`
        : `port ${port} is already in use`,
    `free port ${port} (ss -ltnp 'sport = :${port}') or choose another port in spec.runtime.admin.bind`,
  );

  const ids = await lookupIds(executor, spec.spec.service.user, spec.spec.service.group);
  const useradd = await sh("command -v useradd && command -v groupadd");
  add(
    "service user",
    ids.user !== null || useradd.code === 0,
    ids.user
      ? `${spec.spec.service.user} exists (uid ${ids.user.uid})`
      : useradd.code === 0
        ? `${spec.spec.service.user} will be created by apply`
        : "user missing and useradd not found",
    "apt-get install -y passwd, or create the user yourself",
  );

  const failed = checks.filter((c) => !c.ok);
  return {
    ok: failed.length === 0,
    checks,
    summary:
      failed.length === 0
        ? `preflight ok (${checks.length} checks)`
        : `preflight failed: ${failed.map((c) => `${c.name}: ${c.detail} (fix: ${c.hint})`).join("; ")}`,
  };
}

async function portListening(executor: ReturnType<typeof executorFor>, port: number): Promise<boolean> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = executor.mode === "execute" ? (await executor.run("cat", [table])).stdout : "";
    // Columns: sl local_address rem_address st ...; st 0A = LISTEN.
    if (
      text.split("\n").some((l) => {
        const f = l.trim().split(/\s+/);
        return f[1]?.endsWith(`:${hex}`) && f[3] === "0A";
      })
    )
      return true;
  }
  return false;
}
