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

// One path for every command: oclif finds it in oclif.manifest.json and imports only that
// command's module, which loads its libraries inside run().
const { execute } = await import("@oclif/core");
await execute({ dir: import.meta.url });
