#!/usr/bin/env node
// The greentic-runtime executable. Imports Node built-ins only (through the server modules) so
// that the build bundles it into one self-contained file to copy onto a VM or into an image.
import { runRuntime } from "./main.js";

runRuntime();
