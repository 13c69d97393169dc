import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import type { RolloutFigures, RolloutRecord, RolloutStatus } from "@greentic/operations";

type Ops = typeof import("@greentic/operations");

/** `[ROLLOUT]`: a rollout id; default the environment's newest rollout. */
export const rolloutArg = Args.string({
  description: "Rollout id (a ULID); default the environment's newest rollout.",
});

/** `--idempotency-key` of `op rollout start`. */
export const rolloutKeyFlag = Flags.string({
  description: "Retry key: a start with the same key and the same flags answers the rollout it recorded.",
  helpValue: "KEY",
});

/** Whether the lone positional of `op rollout VERB X` is the environment (not a rollout id). */
export function envFirst(positionals: readonly string[]): boolean {
  if (positionals.length >= 2) return true;
  return positionals.length === 1 && !/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(positionals[0]!);
}

const pct = (bps: number) => `${bps / 100}%`;
const rate = (x: number) => `${(x * 100).toFixed(2)}%`;

function figuresLine(f: RolloutFigures): string {
  const ready = f.ready === null ? "" : f.ready ? ", ready" : `, NOT ready (${f.ready_detail ?? "?"})`;
  return `${f.requests} requests, ${f.errors_5xx} 5xx (${rate(f.error_rate)}), p99 ${f.p99_ms ?? "-"} ms${ready}`;
}

/** A rollout for people: status, steps (the current one in brackets), limits, figures, why it failed. */
export function renderRollout(r: RolloutRecord, extra?: Pick<RolloutStatus, "observed" | "split">): string {
  const done = r.status === "succeeded";
  const steps = r.steps_bps.map((b, i) => (i === r.step_index && !done ? `[${pct(b)}]` : pct(b)));
  const lines = [
    `Rollout ${r.rollout_id} in ${r.env_id}: ${r.status}`,
    `  ${r.stable_revision_id} (stable) -> ${r.candidate_revision_id} (candidate), deployment ${r.deployment_id}`,
    `  steps ${steps.join(" ")}, ${r.interval_ms / 1000}s each; limits: 5xx ${rate(r.max_error_rate)}${r.max_p99_ms === null ? "" : `, p99 ${r.max_p99_ms} ms`}`,
  ];
  if (extra !== undefined)
    lines.push(`  split now: ${extra.split.map((e) => `${e.revision_id}=${pct(e.weight_bps)}`).join(" ") || "none"}`);
  if (extra?.observed) lines.push(`  observed at this step: ${figuresLine(extra.observed)}`);
  for (const m of r.measurements) lines.push(`  at ${pct(m.step_bps)}: ${figuresLine(m)}`);
  if (r.failure)
    lines.push(
      `  ${r.status === "failed" ? "failed" : "stopped"}: ${r.failure.reason}; ${r.traffic_restored ? "all traffic back on" : "moving all traffic back to"} ${r.stable_revision_id}`,
    );
  return `${lines.join("\n")}\n`;
}

/** Follows a rollout until it ends, reporting each change of step or status. */
export async function waitForRollout(
  ops: Ops,
  ctx: Parameters<Ops["readRollout"]>[0],
  record: RolloutRecord,
  progress: (line: string) => void,
): Promise<RolloutRecord> {
  let seen = "";
  for (;;) {
    const r = await ops.readRollout(ctx, record.env_id, record.rollout_id);
    const line = `${r.status} at step ${r.step_index + 1}/${r.steps_bps.length} (${pct(r.steps_bps[r.step_index]!)})`;
    if (line !== seen) progress(`  ${line}`);
    seen = line;
    if ((r.status === "succeeded" || r.status === "failed" || r.status === "aborted") && r.traffic_restored !== false)
      return r;
    if (r.status === "succeeded") return r;
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** How this `op` is run, for the runner's unit: `[node, bin/run.js]`, or the executable alone. */
export function opCommand(): string[] {
  const script = process.argv[1];
  return script !== undefined && /\.(c|m)?js$/.test(script) ? [process.execPath, script] : [process.execPath];
}
