// One single-file executable: an esbuild bundle (CommonJS, every dependency inside), a Node SEA
// blob made from it, and a stripped copy of this machine's Node binary with the blob injected.
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { opEmbedded } from "../../apps/op/scripts/embedded.ts";
import { type ReleaseArtifact, sha256File } from "./lib.ts";

export type SeaTarget = "op" | "greentic-runtime";

export interface SeaOptions {
  root: string;
  /** Scratch directory for the bundle and the blob. */
  work: string;
  /** Release directory the executable is written to. */
  out: string;
  target: SeaTarget;
  version: string;
  commit: string;
}

/** The sentinel Node's SEA loader looks for (documented in Node's single-executable-applications page). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

export async function buildSea(o: SeaOptions): Promise<ReleaseArtifact> {
  const bundle = join(o.work, `${o.target}.cjs`);
  await bundleEntry(o, bundle);
  const blob = join(o.work, `${o.target}.blob`);
  const seaConfig = join(o.work, `${o.target}.sea.json`);
  // The runtime executable carries no V8 code cache (its bundle is small; the bench shows it
  // starts as fast as `node dist/bin.js`); op's 4 MB bundle starts about twice as fast with one.
  // Paths are relative to the work directory: the blob records the main script's path, and an
  // absolute one would make the executable depend on where it was built.
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main: `${o.target}.cjs`,
      output: `${o.target}.blob`,
      disableExperimentalSEAWarning: true,
      useCodeCache: o.target === "op",
    }),
  );
  // V8 seeds the random numbers it derives its string hash seed from at random, and the code
  // cache holds hash tables laid out by that seed, so two builds differed in ~570 000 bytes.
  // A fixed --random-seed for the build process only makes the cache byte-identical; it is not
  // part of V8's flag hash, so the executable (which runs with random seeds, as node does)
  // accepts the cache. (--hash-seed would also do, but it is in the flag hash: V8 then rejects
  // the cache at every start with "Code cache data rejected".)
  execFileSync(process.execPath, ["--random-seed=1", "--experimental-sea-config", seaConfig], {
    cwd: o.work,
    stdio: "pipe",
  });
  const file = `${o.target}-linux-x64`;
  const exe = join(o.out, file);
  copyFileSync(process.execPath, exe);
  // Node's release binaries carry debug info and a symbol table (about 17 MB) that nothing reads
  // at run time; the dynamic symbols stay.
  execFileSync("strip", ["--strip-all", exe]);
  const { inject } = createRequire(import.meta.url)("postject") as {
    inject: (file: string, name: string, data: Buffer, options: { sentinelFuse: string }) => Promise<void>;
  };
  await inject(exe, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SEA_FUSE });
  return {
    file,
    package: o.target === "op" ? "@greentic/op" : "@greentic/runtime",
    version: o.version,
    size: statSync(exe).size,
    sha256: sha256File(exe),
  };
}

async function bundleEntry(o: SeaOptions, outfile: string): Promise<void> {
  const entry =
    o.target === "op" ? join(o.root, "apps/op/src/sea-entry.ts") : join(o.root, "packages/runtime/src/bin.ts");
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    // Workspace packages resolve to their sources, as in the tests.
    conditions: ["@greentic/source"],
    // import.meta does not exist in CommonJS; the few uses resolve paths relative to the module
    // (package directories that do not exist inside an executable), so give them the executable.
    define: { "import.meta.url": "__greentic_import_meta_url", __OP_COMMIT__: JSON.stringify(o.commit) },
    banner: { js: 'var __greentic_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    // Keep names readable in stack traces; the executables are not meant to be small JS.
    minify: false,
    legalComments: "eof",
    logLevel: "error",
    plugins: o.target === "op" ? [opVirtualModules(o), opEmbedded(join(o.root, "apps/op"))] : [],
  });
  if (result.errors.length > 0) throw new Error(`esbuild failed for ${o.target}`);
}

/** The `greentic-release:*` modules sea-entry.ts imports, and the embedded schema module. */
function opVirtualModules(o: SeaOptions): Plugin {
  const opDir = join(o.root, "apps/op");
  return {
    name: "greentic-release",
    setup(b) {
      b.onResolve({ filter: /^greentic-release:/ }, (args) => ({ path: args.path, namespace: "greentic-release" }));
      // The op package's schema module reads committed schema files from the deploy-spec
      // package directory; the executable carries them instead.
      b.onResolve({ filter: /(^|\/)schema\.js$/ }, (args) =>
        join(args.resolveDir, args.path) === join(opDir, "src/lib/schema.js")
          ? { path: join(o.root, "scripts/release/schema-embedded.ts") }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: "greentic-release" }, (args) => {
        if (args.path === "greentic-release:schemas") {
          const dir = join(o.root, "packages/deploy-spec/schemas");
          const files = Object.fromEntries(
            readdirSync(dir)
              .filter((f) => f.startsWith("answers-") && f.endsWith(".schema.json"))
              .sort()
              .map((f) => [f.slice(0, -".schema.json".length), readFileSync(join(dir, f), "utf8")]),
          );
          return { contents: `export const ANSWERS_SCHEMA_FILES = ${JSON.stringify(files)};`, loader: "js" };
        }
        if (args.path === "greentic-release:version")
          return {
            contents: `export const RELEASE = ${JSON.stringify({ name: "@greentic/op", version: o.version, commit: o.commit })};`,
            loader: "js",
          };
        // What bin/run.js reads from the package directory at each start.
        if (args.path === "greentic-release:manifest")
          return {
            contents: `export const MANIFEST = ${readFileSync(join(opDir, "oclif.manifest.json"), "utf8")};`,
            loader: "js",
          };
        return undefined;
      });
    },
  };
}
