// Small, pure helpers of the release build, shared with its tests.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** One file of the release directory. */
export interface ReleaseArtifact {
  /** File name inside the release directory, e.g. `op-linux-x64`. */
  file: string;
  /** The package the executable is built from. */
  package: string;
  version: string;
  size: number;
  sha256: string;
}

/** The commit the release is built from: 12 hex digits, with `-dirty` when the tree has changes. */
export function releaseCommit(root: string): string {
  const hash = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
    cwd: root,
    encoding: "utf8",
  }).trim();
  return dirty === "" ? hash : `${hash}-dirty`;
}

/** Seconds since the epoch that stand for "when this was built": SOURCE_DATE_EPOCH, else the commit time. */
export function sourceDateEpoch(root: string): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!/^\d+$/.test(fromEnv))
      throw new Error(`SOURCE_DATE_EPOCH must be whole seconds, got ${JSON.stringify(fromEnv)}`);
    return Number(fromEnv);
  }
  return Number(execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: root, encoding: "utf8" }).trim());
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** `SHA256SUMS` in the format `sha256sum --check` reads (two spaces, text mode). */
export function checksumsText(artifacts: readonly Pick<ReleaseArtifact, "file" | "sha256">[]): string {
  return artifacts.map((a) => `${a.sha256}  ${a.file}\n`).join("");
}

export function writeChecksums(dir: string, artifacts: readonly Pick<ReleaseArtifact, "file" | "sha256">[]): void {
  writeFileSync(join(dir, "SHA256SUMS"), checksumsText(artifacts));
}

export function buildReleaseMetadata(
  commit: string,
  nodeVersion: string,
  artifacts: readonly ReleaseArtifact[],
  image: { reference: string; id: string; file: string; size: number; sha256: string },
) {
  return {
    schema: "greentic.release.v1",
    commit,
    platform: "linux-x64",
    node: nodeVersion,
    artifacts,
    image,
  };
}
