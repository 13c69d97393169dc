import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe } from "vitest";
import { testbedUnavailable } from "../../../scripts/testbed/testbed.ts";
import { canaryFaults } from "./canary-faults.js";
import { canaryScenario } from "./canary-scenario.js";
import { canaryDayTwo } from "./canary-day-two.js";

const unavailable = testbedUnavailable();
if (unavailable) console.warn(`single-vm canary e2e (Debian 12) skipped: ${unavailable}`);
if (!unavailable && !existsSync(join(import.meta.dirname, "../../../apps/op/oclif.manifest.json")))
  throw new Error("build the workspace first (pnpm build): op runs inside the testbed");

// Debian 12 also carries the fault phases, the 60 s load run, `op logs` and route bindings: one
// boot for all of them.
describe.skipIf(unavailable !== undefined)("canary on the VM, Debian 12 (bookworm)", () => {
  canaryScenario("bookworm", { loadSeconds: 60, extra: canaryFaults, beforeDestroy: canaryDayTwo });
});
