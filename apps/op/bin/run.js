#!/usr/bin/env node
// The `op` entry point. The compile cache keeps the second and later starts fast (Node >= 22.1).
import module from "node:module";

module.enableCompileCache?.();

const { execute } = await import("@oclif/core");
await execute({ dir: import.meta.url });
