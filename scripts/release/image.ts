// The runtime image: FROM scratch, the runtime executable plus the shared libraries it is linked
// against, uid/gid 65532; built by Podman from the committed Containerfile, with every timestamp
// pinned to SOURCE_DATE_EPOCH so that the same executable always gives the same image digest;
// saved as an OCI archive that `podman load` takes on a VM.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sha256File } from "./lib.ts";

export interface ImageOptions {
  root: string;
  /** The runtime executable to package. */
  executable: string;
  /** Directory the OCI archive is written to. */
  out: string;
  version: string;
  commit: string;
  /** SOURCE_DATE_EPOCH: the mtime of every file and the image's creation time. */
  epoch: number;
}

export interface RuntimeImage {
  /** `localhost/greentic-runtime:<version>`, the name the single-VM spec refers to. */
  reference: string;
  /** The image id (sha256 of its config), what `podman images` shows. */
  id: string;
  /** File name of the OCI archive inside `out`. */
  file: string;
  size: number;
  sha256: string;
}

export const IMAGE_UID = 65532;

/** `ldd` output → the absolute paths the dynamic loader opens (the loader itself included). */
export function parseLdd(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split("\n")) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) paths.push(m[1]!);
    else if (/not found/.test(line)) throw new Error(`ldd: ${line.trim()}`);
  }
  return paths;
}

/** Lays out the build context: rootfs/ with the executable, its libraries and the passwd files. */
export function assembleContext(o: ImageOptions): string {
  const ctx = mkdtempSync(join(tmpdir(), "greentic-image-"));
  const rootfs = join(ctx, "rootfs");
  const put = (target: string, source: string, mode: number) => {
    mkdirSync(dirname(join(rootfs, target)), { recursive: true });
    copyFileSync(source, join(rootfs, target));
    chmodSync(join(rootfs, target), mode);
  };
  put("/usr/local/bin/greentic-runtime", o.executable, 0o755);
  for (const lib of parseLdd(execFileSync("ldd", [o.executable], { encoding: "utf8" })))
    put(lib, realpathSync(lib), lib.includes("/ld-linux") ? 0o755 : 0o644);
  mkdirSync(join(rootfs, "etc"));
  writeFileSync(
    join(rootfs, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${IMAGE_UID}:${IMAGE_UID}:nonroot:/nonexistent:/sbin/nologin\n`,
  );
  writeFileSync(join(rootfs, "etc/group"), `root:x:0:\nnonroot:x:${IMAGE_UID}:\n`);
  mkdirSync(join(rootfs, "tmp"));
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(join(o.root, "scripts/release/Containerfile"), join(ctx, "Containerfile"));
  // Fixed modes for directories, fixed mtimes for everything: the layer tar is then a function
  // of the file contents alone.
  const pin = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      if (p !== join(rootfs, "tmp")) chmodSync(p, 0o755);
      for (const e of readdirSync(p)) pin(join(p, e));
    }
    lutimesSync(p, o.epoch, o.epoch);
  };
  pin(ctx);
  return ctx;
}

/** Builds the image, tags it `localhost/greentic-runtime:<version>` and saves it as an OCI archive. */
export function buildRuntimeImage(o: ImageOptions): RuntimeImage {
  const reference = `localhost/greentic-runtime:${o.version}`;
  const ctx = assembleContext(o);
  const file = "greentic-runtime-image-linux-x64.oci.tar";
  const layout = mkdtempSync(join(tmpdir(), "greentic-image-oci-"));
  rmSync(layout, { recursive: true });
  const build = [
    "podman",
    "build",
    "--quiet",
    "--pull=never",
    `--timestamp=${o.epoch}`,
    "--identity-label=false",
    "--label",
    `org.opencontainers.image.version=${o.version}`,
    "--label",
    `org.opencontainers.image.revision=${o.commit}`,
    "--label",
    "org.opencontainers.image.title=greentic-runtime",
    "--file",
    join(ctx, "Containerfile"),
    "--tag",
    reference,
    ctx,
  ];
  // podman writes the archive's tar headers with the current time; the OCI layout it saves is
  // deterministic, so it is saved as a directory and archived below with pinned headers. Build,
  // tag and save hold one host-wide lock: another build (another checkout, a test) must not
  // retag the reference in between.
  const save = ["podman", "save", "--quiet", "--format", "oci-dir", "--output", layout, reference];
  const inspect = ["podman", "image", "inspect", "--format", "{{.Id}}", reference];
  const q = (argv: string[]) => argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  let id: string;
  try {
    id = execFileSync(
      "flock",
      ["/run/lock/greentic-runtime-image.lock", "sh", "-c", `${q(build)} >/dev/null && ${q(save)} && ${q(inspect)}`],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    ).trim();
    rmSync(join(o.out, file), { force: true });
    execFileSync("tar", [
      "--create",
      "--file",
      join(o.out, file),
      "--sort=name",
      `--mtime=@${o.epoch}`,
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mode=u+rw,go+r,go-w",
      "--format=posix",
      "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
      "--directory",
      layout,
      "oci-layout",
      "index.json",
      "blobs",
    ]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
    rmSync(layout, { recursive: true, force: true });
  }
  return { reference, id, file, size: statSync(join(o.out, file)).size, sha256: sha256File(join(o.out, file)) };
}
