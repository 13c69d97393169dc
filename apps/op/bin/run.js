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

// dist/start.js (src/start.ts) runs one of op's commands itself, importing only that command,
// and hands anything else (help, an unknown command) to oclif with this package's manifest.
const root = new URL("..", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("oclif.manifest.json", root), "utf8"));
const { runOp } = await import("../dist/start.js");
await runOp(process.argv.slice(2), decodeURIComponent(root.pathname).replace(/\/$/, ""), manifest);
