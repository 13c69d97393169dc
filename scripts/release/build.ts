// `pnpm release`: builds the release artifacts into release/ (after `pnpm build`):
//   op-linux-x64, greentic-runtime-linux-x64   single-file executables (Node SEA)
//   greentic-runtime-image-linux-x64.oci.tar  the runtime image (FROM scratch, uid 65532) for
//                                             `podman load`, tagged localhost/greentic-runtime:<version>
//   SHA256SUMS                                 `sha256sum --check` format
//   release.json                               name, version, commit, size and sha256 of each
// Each executable is one CommonJS bundle (esbuild, every dependency inside) turned into a SEA
// blob and injected with postject into a copy of this machine's Node 22 binary, stripped of
// its debug symbols. Nothing is read from node_modules at run time and no Node.js is needed
// where the executables run. Set SOURCE_DATE_EPOCH to pin timestamps (default: the commit's).
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildRuntimeImage } from "./image.ts";
import { buildReleaseMetadata, releaseCommit, sourceDateEpoch, writeChecksums } from "./lib.ts";
import { buildSea } from "./sea.ts";

const root = resolve(import.meta.dirname, "../..");
const out = resolve(process.env.GREENTIC_RELEASE_DIR ?? join(root, "release"));

if (process.platform !== "linux" || process.arch !== "x64") {
  console.error(
    `release: builds linux-x64 executables from a linux-x64 host (this is ${process.platform}-${process.arch})`,
  );
  process.exit(2);
}
for (const dist of ["apps/op/dist/start.js", "apps/op/oclif.manifest.json", "packages/runtime/dist/bin.js"]) {
  try {
    readdirSync(join(root, dist));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      console.error(`release: ${dist} is missing; run \`pnpm build\` first (\`pnpm release\` does)`);
      process.exit(1);
    }
  }
}

const commit = releaseCommit(root);
const opPjson = JSON.parse(readFileSync(join(root, "apps/op/package.json"), "utf8")) as { version: string };
const runtimePjson = JSON.parse(readFileSync(join(root, "packages/runtime/package.json"), "utf8")) as {
  version: string;
};
const work = join(out, ".work");
rmSync(out, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const started = Date.now();
const artifacts = [
  await buildSea({ root, work, out, target: "op", version: opPjson.version, commit }),
  await buildSea({ root, work, out, target: "greentic-runtime", version: runtimePjson.version, commit }),
];
if (!process.env.GREENTIC_RELEASE_KEEP_WORK) rmSync(work, { recursive: true, force: true });
for (const a of artifacts) chmodSync(join(out, a.file), 0o755);
const image = buildRuntimeImage({
  root,
  executable: join(out, "greentic-runtime-linux-x64"),
  out,
  version: runtimePjson.version,
  commit,
  epoch: sourceDateEpoch(root),
});
writeChecksums(out, [...artifacts, image]);
writeFileSync(
  join(out, "release.json"),
  `${JSON.stringify(buildReleaseMetadata(commit, process.version, artifacts, image), null, 2)}\n`,
);
for (const a of artifacts)
  console.log(`${a.file}  ${a.version}  ${(a.size / 1024 / 1024).toFixed(1)} MiB  sha256:${a.sha256}`);
console.log(`${image.file}  ${image.reference}  id ${image.id.slice(0, 12)}  sha256:${image.sha256}`);
console.log(`release ${commit} in ${out} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
execFileSync("sha256sum", ["--check", "--quiet", "SHA256SUMS"], { cwd: out, stdio: "inherit" });
