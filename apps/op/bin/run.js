#!/usr/bin/env node
// The `op` entry point. The compile cache keeps the second and later starts fast (Node >= 22.1).
import module from "node:module";

module.enableCompileCache?.();

// `op --help | head -1`: a reader that closes the pipe early is not an error (without this
// the pending write leaves the top-level await unsettled and Node exits 13).
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

// `op env show|list` with nothing but --json / --store-root are answered without oclif when
// the store vouches for what is on disk (see src/fast.ts); anything else, any doubt and any
// error goes to oclif. GREENTIC_OP_NO_FAST_PATH=1 turns the fast path off.
const argv = process.argv.slice(2);
const noFast = process.env.GREENTIC_OP_NO_FAST_PATH;
let served = false;
if (
  (noFast === undefined || noFast === "" || noFast === "0") &&
  argv[0] === "env" &&
  (argv[1] === "show" || argv[1] === "list")
) {
  const { runFast } = await import("../dist/fast.js");
  served = await runFast(argv);
}
if (!served) {
  const { execute } = await import("@oclif/core");
  await execute({ dir: import.meta.url });
}
