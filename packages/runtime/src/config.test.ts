import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { adminHostProblem, isOnReadOnlyMount, loadRuntimeConfig, mountIsReadOnly } from "./config.js";

let root: string;
let env: Record<string, string>;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "greentic-config-"));
  for (const d of ["bundle", "state", "cache", "log", "tmp", "certs"]) mkdirSync(join(root, d));
  writeFileSync(join(root, "bundle", "index.html"), "<p>x</p>");
  execFileSync("chmod", ["-R", "a-w", join(root, "bundle")]);
  for (const f of ["ca.crt", "server.crt", "server.key"]) writeFileSync(join(root, "certs", f), "-----BEGIN X-----\n");
  env = {
    GREENTIC_BUNDLE_DIR: join(root, "bundle"),
    GREENTIC_STATE_DIR: join(root, "state"),
    GREENTIC_CACHE_DIR: join(root, "cache"),
    GREENTIC_LOG_DIR: join(root, "log"),
    GREENTIC_TEMP_DIR: join(root, "tmp"),
    GREENTIC_ADMIN_CA_FILE: join(root, "certs", "ca.crt"),
    GREENTIC_ADMIN_CERT_FILE: join(root, "certs", "server.crt"),
    GREENTIC_ADMIN_KEY_FILE: join(root, "certs", "server.key"),
  };
});

afterEach(() => {
  execFileSync("chmod", ["-R", "u+w", root]);
  rmSync(root, { recursive: true, force: true });
});

function issuesOf(e: Record<string, string | undefined>) {
  const result = loadRuntimeConfig(e);
  if (result.ok) throw new Error("expected configuration issues");
  return result.issues;
}

describe("loadRuntimeConfig", () => {
  it("accepts a complete environment and applies the defaults", () => {
    const result = loadRuntimeConfig(env);
    expect(result).toEqual({
      ok: true,
      config: expect.objectContaining({
        bundleDir: env.GREENTIC_BUNDLE_DIR,
        publicBind: { host: "0.0.0.0", port: 8080 },
        adminBind: { host: "127.0.0.1", port: 8433 },
        readinessPath: "/ready",
        livenessPath: "/health",
        revisionId: null,
        drainTimeoutMs: 10_000,
        accessLog: true,
      }),
    });
  });

  it("accepts GREENTIC_BUNDLE_MOUNT as an alias of GREENTIC_BUNDLE_DIR", () => {
    const { GREENTIC_BUNDLE_DIR, ...rest } = env;
    const result = loadRuntimeConfig({ ...rest, GREENTIC_BUNDLE_MOUNT: GREENTIC_BUNDLE_DIR });
    expect(result.ok && result.config.bundleDir).toBe(GREENTIC_BUNDLE_DIR);
  });

  it("reports every missing variable by name, at once", () => {
    const issues = issuesOf({});
    expect(issues.map((i) => i.variable).sort()).toEqual(
      [
        "GREENTIC_ADMIN_CA_FILE",
        "GREENTIC_ADMIN_CERT_FILE",
        "GREENTIC_ADMIN_KEY_FILE",
        "GREENTIC_BUNDLE_DIR",
        "GREENTIC_CACHE_DIR",
        "GREENTIC_LOG_DIR",
        "GREENTIC_STATE_DIR",
        "GREENTIC_TEMP_DIR",
      ].sort(),
    );
    expect(issues.every((i) => i.value === null && i.hint.length > 0)).toBe(true);
  });

  it("refuses relative paths", () => {
    expect(issuesOf({ ...env, GREENTIC_STATE_DIR: "state" })).toEqual([
      expect.objectContaining({
        variable: "GREENTIC_STATE_DIR",
        value: "state",
        message: "GREENTIC_STATE_DIR must be an absolute path",
      }),
    ]);
  });

  it.each([
    ["0.0.0.0:8433", /wildcard address 0\.0\.0\.0/],
    ["[::]:8433", /wildcard address ::/],
    ["10.1.2.3:8433", /loopback address, not 10\.1\.2\.3/],
    ["192.168.1.10:0", /loopback address, not 192\.168\.1\.10/],
    ["[fe80::1]:8433", /loopback address, not fe80::1/],
    ["admin.example.com:8433", /not the name admin\.example\.com/],
  ])("refuses the admin bind %s", (bind, message) => {
    const [issue] = issuesOf({ ...env, GREENTIC_ADMIN_BIND: bind });
    expect(issue).toMatchObject({
      variable: "GREENTIC_ADMIN_BIND",
      value: bind,
      message: expect.stringMatching(message),
      hint: expect.stringContaining("127.0.0.1:8433"),
    });
  });

  it.each(["127.0.0.1:8433", "127.10.0.7:0", "[::1]:8433", "localhost:8433"])(
    "accepts the loopback admin bind %s",
    (bind) => {
      expect(loadRuntimeConfig({ ...env, GREENTIC_ADMIN_BIND: bind }).ok).toBe(true);
    },
  );

  it.each(["8433", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:-1", "[::1:8433", "::1:8433", "[nothex]:1"])(
    "refuses the malformed bind %s",
    (bind) => {
      expect(issuesOf({ ...env, GREENTIC_PUBLIC_BIND: bind })[0]).toMatchObject({
        variable: "GREENTIC_PUBLIC_BIND",
        value: bind,
      });
    },
  );

  it("refuses a bundle with write permission bits, naming the writable entry", () => {
    execFileSync("chmod", ["u+w", join(root, "bundle", "index.html")]);
    const [issue] = issuesOf(env);
    expect(issue).toMatchObject({
      variable: "GREENTIC_BUNDLE_DIR",
      value: env.GREENTIC_BUNDLE_DIR,
      hint: expect.stringContaining("chmod -R a-w"),
    });
    expect(issue!.message).toContain(join(root, "bundle", "index.html"));
  });

  it("refuses a bundle directory that is itself writable", () => {
    execFileSync("chmod", ["u+w", join(root, "bundle")]);
    expect(issuesOf(env)[0]!.message).toContain(`${join(root, "bundle")} has write permission bits`);
  });

  it("refuses a missing bundle and a bundle that is a file", () => {
    expect(issuesOf({ ...env, GREENTIC_BUNDLE_DIR: join(root, "nope") })[0]!.message).toContain("ENOENT");
    expect(issuesOf({ ...env, GREENTIC_BUNDLE_DIR: env.GREENTIC_ADMIN_CA_FILE! })[0]!.message).toBe(
      "the bundle path is not a directory",
    );
  });

  it("refuses a missing writable dir with a mkdir hint", () => {
    const missing = join(root, "missing-cache");
    expect(issuesOf({ ...env, GREENTIC_CACHE_DIR: missing })).toEqual([
      {
        variable: "GREENTIC_CACHE_DIR",
        value: missing,
        message: "GREENTIC_CACHE_DIR does not exist or is not writable (ENOENT)",
        hint: `create it: mkdir -p ${missing}`,
      },
    ]);
  });

  it("refuses unreadable or non-PEM certificate files", () => {
    writeFileSync(join(root, "certs", "server.key"), "not pem");
    const issues = issuesOf({ ...env, GREENTIC_ADMIN_CA_FILE: join(root, "certs", "absent.crt") });
    expect(issues.map((i) => [i.variable, i.message])).toEqual([
      ["GREENTIC_ADMIN_CA_FILE", "GREENTIC_ADMIN_CA_FILE cannot be read (ENOENT)"],
      ["GREENTIC_ADMIN_KEY_FILE", "GREENTIC_ADMIN_KEY_FILE is not a PEM file"],
    ]);
  });

  it("validates health paths, the drain timeout and the revision id", () => {
    expect(issuesOf({ ...env, GREENTIC_HEALTH_READINESS_PATH: "ready" })[0]!.variable).toBe(
      "GREENTIC_HEALTH_READINESS_PATH",
    );
    expect(issuesOf({ ...env, GREENTIC_HEALTH_LIVENESS_PATH: "/admin/v1/status" })[0]!.variable).toBe(
      "GREENTIC_HEALTH_LIVENESS_PATH",
    );
    expect(issuesOf({ ...env, GREENTIC_HEALTH_LIVENESS_PATH: "/ready" })[0]!.message).toBe(
      "the readiness and liveness paths are the same",
    );
    for (const bad of ["0", "-1", "ten", "99999"])
      expect(issuesOf({ ...env, GREENTIC_DRAIN_TIMEOUT_SECONDS: bad })[0]).toMatchObject({
        variable: "GREENTIC_DRAIN_TIMEOUT_SECONDS",
        value: bad,
      });
    expect(issuesOf({ ...env, GREENTIC_REVISION_ID: "a b" })[0]!.variable).toBe("GREENTIC_REVISION_ID");
    for (const bad of ["false", "0", "OFF", " off"])
      expect(issuesOf({ ...env, GREENTIC_ACCESS_LOG: bad })).toEqual([
        {
          variable: "GREENTIC_ACCESS_LOG",
          value: bad,
          message: "GREENTIC_ACCESS_LOG must be on or off",
          hint: "use GREENTIC_ACCESS_LOG=off to leave out the public requests' log lines (a proxy in front logs them), or on (the default)",
        },
      ]);
    for (const [value, on] of [
      ["off", false],
      ["on", true],
      ["", true],
    ] as const) {
      const r = loadRuntimeConfig({ ...env, GREENTIC_ACCESS_LOG: value });
      expect(r.ok && r.config.accessLog).toBe(on);
    }
    const ok = loadRuntimeConfig({
      ...env,
      GREENTIC_DRAIN_TIMEOUT_SECONDS: "2.5",
      GREENTIC_HEALTH_READINESS_PATH: "/healthz/ready",
      GREENTIC_REVISION_ID: "01J0000000000000000000000",
    });
    expect(ok.ok && [ok.config.drainTimeoutMs, ok.config.readinessPath, ok.config.revisionId]).toEqual([
      2500,
      "/healthz/ready",
      "01J0000000000000000000000",
    ]);
  });

  it("skips the filesystem checks when asked", () => {
    expect(loadRuntimeConfig({ ...env, GREENTIC_CACHE_DIR: "/does/not/exist" }, { checkFilesystem: false }).ok).toBe(
      true,
    );
  });
});

describe("adminHostProblem", () => {
  // The loopback rule itself is the I/O kit's isLoopback, tested there.
  it("names the wildcard, a routable address and a host name", () => {
    expect(adminHostProblem("0:0:0:0:0:0:0:0")).toMatch(/wildcard/);
    expect(adminHostProblem("10.0.0.1")).toBe("the admin endpoint must listen on a loopback address, not 10.0.0.1");
    expect(adminHostProblem("example.com")).toMatch(/not the name example\.com/);
    expect(adminHostProblem("127.0.0.2")).toBeNull();
    expect(adminHostProblem("LocalHost")).toBeNull();
  });
});

describe("read-only mounts", () => {
  const mountinfo = [
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
    "40 22 7:0 / /mnt/greentic/bundles/acme ro,relatime shared:20 - squashfs /dev/loop0 ro",
    "41 22 0:40 / /mnt/with\\040space ro - tmpfs tmpfs rw",
    "42 22 0:41 / /srv/rw-over rw - tmpfs tmpfs ro",
    "43 22 0:42 / /srv/shadowed ro - tmpfs tmpfs ro",
    "44 22 0:43 / /srv/shadowed rw - tmpfs tmpfs rw",
  ].join("\n");

  it("reads the ro flag of the longest mount point holding the path", () => {
    expect(mountIsReadOnly("/", mountinfo)).toBe(false);
    expect(mountIsReadOnly("/mnt/greentic/bundles/acme", mountinfo)).toBe(true);
    expect(mountIsReadOnly("/mnt/greentic/bundles/acme/site/index.html", mountinfo)).toBe(true);
    expect(mountIsReadOnly("/mnt/greentic/bundles/acme-other", mountinfo)).toBe(false);
    expect(mountIsReadOnly("/mnt/with space/x", mountinfo)).toBe(true);
    expect(mountIsReadOnly("/srv/rw-over/x", mountinfo)).toBe(true); // read-only superblock
    expect(mountIsReadOnly("/srv/shadowed/x", mountinfo)).toBe(false); // the later mount on top wins
  });

  it("accepts a real squashfs mount although its files carry write bits", () => {
    const src = join(root, "src");
    const mnt = join(root, "mnt");
    mkdirSync(src);
    mkdirSync(mnt);
    writeFileSync(join(src, "index.html"), "<p>squash</p>"); // mode 0644: writable bits
    execFileSync("mksquashfs", [src, join(root, "b.squashfs"), "-noappend", "-quiet"], { stdio: "ignore" });
    execFileSync("mount", ["-t", "squashfs", "-o", "ro,loop", join(root, "b.squashfs"), mnt]);
    try {
      expect(isOnReadOnlyMount(mnt)).toBe(true);
      const result = loadRuntimeConfig({ ...env, GREENTIC_BUNDLE_DIR: mnt });
      expect(result.ok).toBe(true);
      expect(isOnReadOnlyMount(root)).toBe(false);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
