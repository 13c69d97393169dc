import { GreenticError } from "@greentic/deploy-spec";
import type { DeployerLogLine, ReadLogsResult } from "@greentic/env-packs";
import type { HostExecutor } from "./executor.js";

/** A systemd unit whose journal `op logs` reads, and the source its lines are shown under. */
export interface JournalSource {
  /** `router`, `rollout`, or a revision id. */
  source: string;
  unit: string;
}

/** Options of {@link readJournal}. */
export interface ReadJournalOptions {
  /** The newest N entries (ignored with `after`). */
  lines: number;
  /** Only entries at or after this time (epoch ms). */
  sinceMs?: number | undefined;
  /** Only entries after this journal cursor (following). */
  after?: string | undefined;
}

interface JournalEntry {
  __CURSOR?: string;
  __REALTIME_TIMESTAMP?: string;
  MESSAGE?: string | number[] | null;
  _SYSTEMD_UNIT?: string;
  /** Set by systemd itself on its messages about a unit (started, stopped, failed). */
  UNIT?: string;
}

/** journald stores a message that is not valid UTF-8 as an array of bytes. */
function messageOf(message: JournalEntry["MESSAGE"]): string {
  if (Array.isArray(message)) return Buffer.from(message).toString("utf8");
  return message ?? "";
}

/**
 * Reads the journal of the given units on the host behind `executor` (`journalctl -o json`,
 * the units merged in time order): the newest `lines` entries, or every entry after the cursor
 * `after` when following. Works wherever the executor runs commands: this host, a machine
 * entered with nsenter, a VM over SSH. The answer's cursor continues where it ended; when no
 * entry matched yet, it is the journal's current end, so a follower sees only what comes next.
 */
export async function readJournal(
  executor: HostExecutor,
  sources: readonly JournalSource[],
  options: ReadJournalOptions,
): Promise<ReadLogsResult> {
  const described = sources.map((s) => ({ source: s.source, unit: s.unit }));
  if (executor.mode !== "execute" || sources.length === 0) return { sources: described, lines: [], cursor: null };
  const args = ["--no-pager", "--quiet", "-o", "json", ...sources.flatMap((s) => ["-u", s.unit])];
  // The newest N: newest first (`-r`), since `-n` with `--since` would count from the oldest.
  if (options.after !== undefined) args.push(`--after-cursor=${options.after}`);
  else args.push("-r", "-n", String(options.lines));
  // journalctl takes whole seconds after `@`; the exact bound is applied to each entry below.
  if (options.sinceMs !== undefined) args.push("--since", `@${Math.floor(options.sinceMs / 1000)}`);
  const r = await executor.run("journalctl", args, { timeoutMs: 30_000 });
  const json = r.stdout.split("\n").filter((l) => l.startsWith("{"));
  if (options.after === undefined) json.reverse();
  // journalctl exits 1 with "-- No entries --" when a unit has never logged: no lines, not a failure.
  if (r.code !== 0 && json.length === 0 && !/No entries/.test(r.stdout + r.stderr))
    throw new GreenticError(
      "io",
      `journalctl on the VM failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`,
      {
        hint: "op logs reads the systemd journal of the deployment's units: check that journald runs on the VM",
      },
    );
  const byUnit = new Map(sources.map((s) => [s.unit, s.source]));
  const lines: DeployerLogLine[] = [];
  let cursor: string | null = null;
  for (const text of json) {
    let entry: JournalEntry;
    try {
      entry = JSON.parse(text) as JournalEntry;
    } catch {
      continue; // a line cut by the timeout; the cursor stays before it
    }
    cursor = entry.__CURSOR ?? cursor;
    const at = Number(entry.__REALTIME_TIMESTAMP) / 1000;
    if (options.sinceMs !== undefined && at < options.sinceMs) continue;
    const unit =
      entry._SYSTEMD_UNIT !== undefined && byUnit.has(entry._SYSTEMD_UNIT) ? entry._SYSTEMD_UNIT : entry.UNIT;
    lines.push({
      source: byUnit.get(unit ?? "") ?? unit ?? "journal",
      ts: Number.isFinite(at) ? new Date(at).toISOString() : null,
      line: messageOf(entry.MESSAGE),
    });
  }
  if (cursor === null) cursor = options.after ?? (await journalEnd(executor));
  return { sources: described, lines, cursor };
}

/** The cursor of the journal's newest entry (where a follower starts when nothing matched yet). */
async function journalEnd(executor: HostExecutor): Promise<string | null> {
  const r = await executor.run("journalctl", ["--no-pager", "--quiet", "-n", "0", "--show-cursor"], {
    timeoutMs: 30_000,
  });
  return /^-- cursor: (.+)$/m.exec(r.stdout)?.[1]?.trim() ?? null;
}
