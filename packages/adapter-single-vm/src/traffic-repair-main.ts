// The script of the VM's traffic-repair unit (traffic-repair.ts): started by its path unit when
// the store's committed runtime-config.json changes, and once at boot. Once the stored split has
// held still for a moment (a live `op traffic set` pushes its own split within it), it applies
// it to the canary record and HAProxy if they differ, and checks again.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { validateVmSpec } from "./env-pack.js";
import { readDesiredSplit, repairCanarySplit } from "./traffic-repair.js";

const GRACE_MS = Number(process.env.GREENTIC_TRAFFIC_REPAIR_GRACE_MS ?? 1_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const describe = (entries: readonly { revision_id: string; weight_bps: number }[]) =>
  entries.map((e) => `${e.revision_id}=${e.weight_bps}`).join(" ") || "(none)";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { spec: { type: "string" }, desired: { type: "string" }, deployment: { type: "string" } },
  });
  if (values.spec === undefined || values.desired === undefined || values.deployment === undefined) {
    process.stderr.write("usage: traffic-repair-main --spec FILE --desired RUNTIME_CONFIG --deployment ID\n");
    return 2;
  }
  const parsed = validateVmSpec(await readFile(values.spec, "utf8"), values.spec);
  if (!parsed.ok) {
    process.stderr.write(`${parsed.summary}\n`);
    return 2;
  }
  // A few rounds at most: the store's split must hold still over the grace (a command that just
  // committed pushes its own split within it), and each repair is checked against the store again.
  let before = await readDesiredSplit(values.desired, values.deployment);
  for (let round = 0; round < 5; round++) {
    await sleep(GRACE_MS);
    const desired = await readDesiredSplit(values.desired, values.deployment);
    if (describe(desired) !== describe(before)) {
      before = desired;
      continue;
    }
    const r = await repairCanarySplit(parsed.value, desired, { deploymentId: values.deployment });
    if (!r.repaired) {
      process.stdout.write(`traffic of ${values.deployment} as stored: ${describe(desired)}\n`);
      return 0;
    }
    process.stdout.write(`HAProxy lagged the store; applied the stored split ${describe(desired)}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`traffic repair failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
