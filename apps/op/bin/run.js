#!/usr/bin/env node
// The `op` entry point. The compile cache keeps the second and later starts fast (Node >= 22.1).
import { readFileSync } from "node:fs";
import module from "node:module";

module.enableCompileCache?.();

// `op --help | head -1`: a reader that closes the pipe early is not an error (without this
// the pending write leaves the top-level await unsettled and Node exits 13).
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

// One path for every command: dist/main.js (src/main.ts) hands oclif this package's manifest
// and imports only the command that runs.
const root = new URL("..", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("oclif.manifest.json", root), "utf8"));
// oclif checks Node against its own package.json's engines on import, loading semver (47
// modules) for it; package.json's engines and Node's own check already cover op. Its documented
// switch is set for the import only, so that no process op starts inherits it.
const engineWarning = process.env.OCLIF_DISABLE_ENGINE_WARNING;
process.env.OCLIF_DISABLE_ENGINE_WARNING = "1";
const { runOp } = await import("../dist/main.js");
if (engineWarning === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING;
else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineWarning;
await runOp(process.argv.slice(2), decodeURIComponent(root.pathname).replace(/\/$/, ""), manifest);
