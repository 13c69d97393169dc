import { existsSync } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { parseSince } from "./audit.js";
import { checkEnvArgument, type OperationsContext } from "./context.js";
import { deployerOf } from "./lookups.js";
import { resolveRevisionRef } from "./refs.js";

/**
 * A log `op logs` reads: a revision's runtime log or the environment's router log, as a file on
 * this machine (local environments) or a systemd unit's journal on the deployer's host (single VM).
 */
export interface LogSource {
  /** `router`, `rollout`, or the revision id. */
  source: string;
  file?: string;
  unit?: string;
}

/** One line of a log, with its time when the line carries one (JSON lines with `ts`). */
export interface LogLine {
  source: string;
  /** RFC 3339 time of the line, when it has one. */
  ts: string | null;
  /** The line as written (without its newline). */
  line: string;
}

/** Options of {@link logs}. */
export interface LogsOptions {
  /** Only this revision's log. */
  revision?: string | undefined;
  /** Only the router's log. */
  router?: boolean | undefined;
  /** Only lines at or after this time, as `op audit list --since` takes it (`10m`, `2h`, `today`, an RFC 3339 time). */
  since?: string | undefined;
  /** At most this many lines, the newest (default 100). */
  lines?: number | undefined;
}

/** `op logs` result: the sources read and their lines, oldest first. */
export interface LogsResult {
  environment_id: string;
  sources: LogSource[];
  lines: LogLine[];
  /**
   * Where a follower goes on from when the deployer reads the logs on its host (its journal
   * cursor); absent for log files on this machine, which are followed from their end.
   */
  cursor?: string | null;
}

function timeOf(line: string): string | null {
  if (!line.startsWith("{")) return null;
  try {
    const ts = (JSON.parse(line) as { ts?: unknown }).ts;
    return typeof ts === "string" ? ts : null;
  } catch {
    return null;
  }
}

/** The last `maxBytes` of a file, split into whole lines (the first, partial one dropped). */
async function tailLines(file: string, maxBytes: number): Promise<string[]> {
  const handle = await open(file, "r").catch(() => undefined);
  if (handle === undefined) return [];
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString("utf8").split("\n");
    if (start > 0) lines.shift();
    if (lines.at(-1) === "") lines.pop();
    return lines;
  } finally {
    await handle.close();
  }
}

/** What `op logs` acts on: the checked environment, the resolved revision, its deployer. */
async function logTarget(ctx: OperationsContext, envId: string, options: Pick<LogsOptions, "revision" | "router">) {
  const id = checkEnvArgument(envId);
  if (options.revision !== undefined && options.router === true) {
    throw new GreenticError("invalid-argument", "name a revision or --router, not both", {
      hint: "without either, every revision's log and the router's are merged",
    });
  }
  const { environment } = await ctx.store.load(id);
  // A revision reference as every verb takes it: an id, a unique prefix, @N, latest, previous, stable.
  const revision =
    options.revision === undefined ? undefined : resolveRevisionRef(environment, options.revision).revision_id;
  const { deployer, hctx } = await deployerOf(ctx, environment);
  return { id, revision, deployer, hctx };
}

/**
 * Which log files `op logs` reads: every revision the deployer knows a log of, and the router's,
 * or only the one asked for. A revision or router without a log on this machine is `not-found`.
 */
export async function logSources(
  ctx: OperationsContext,
  envId: string,
  options: Pick<LogsOptions, "revision" | "router"> = {},
): Promise<LogSource[]> {
  return fileSources(await logTarget(ctx, envId, options), options);
}

async function fileSources(
  { id, revision, deployer, hctx }: Awaited<ReturnType<typeof logTarget>>,
  options: Pick<LogsOptions, "revision" | "router">,
): Promise<LogSource[]> {
  const sources: LogSource[] = [];
  if (revision === undefined) {
    const router = await deployer.routerStatus?.(hctx);
    if (router?.log !== undefined) sources.push({ source: "router", file: router.log });
  }
  if (options.router !== true) {
    for (const s of await deployer.status(hctx))
      if (s.log !== undefined && (revision === undefined || s.revision_id === revision))
        sources.push({ source: s.revision_id, file: s.log });
  }
  if (sources.length === 0 && (options.revision !== undefined || options.router === true)) {
    const what = options.router === true ? "the router" : `revision ${revision}`;
    throw new GreenticError("not-found", `${what} of environment ${id} has no log on this machine`, {
      hint:
        options.router === true
          ? "the router starts with the first warm or traffic split"
          : "a revision writes its log once warmed; see `op status`",
      details: revision === undefined ? {} : { revision_id: revision },
    });
  }
  return sources;
}

/**
 * `op logs <env> [revision | --router]`: the newest lines of the environment's logs (the
 * revisions' runtime logs and the router's, merged by time), as files on this machine.
 */
export async function logs(ctx: OperationsContext, envId: string, options: LogsOptions = {}): Promise<LogsResult> {
  const limit = options.lines ?? 100;
  if (!Number.isInteger(limit) || limit < 1)
    throw new GreenticError("invalid-argument", `lines must be a positive integer, got ${JSON.stringify(limit)}`, {
      path: "lines",
      hint: "e.g. -n 100",
    });
  const since = options.since === undefined ? undefined : Date.parse(parseSince(options.since));
  const target = await logTarget(ctx, envId, options);
  if (target.deployer.readLogs !== undefined) {
    // The deployer's own host (a VM's journal), read through the executor it deploys with.
    const r = await target.deployer.readLogs(target.hctx, {
      revision: target.revision,
      router: options.router,
      sinceMs: since,
      lines: limit,
    });
    return { environment_id: target.id, sources: r.sources, lines: r.lines.slice(-limit), cursor: r.cursor };
  }
  const sources = await fileSources(target, options);
  const lines: LogLine[] = [];
  for (const { source, file } of sources) {
    if (file === undefined) continue;
    // Enough bytes for the newest lines without reading a large log whole; a log rotated at its
    // size cap (`file.1` newest … `file.3`) is read on into its older files until there are enough.
    let own: string[] = [];
    for (const [index, name] of [file, `${file}.1`, `${file}.2`, `${file}.3`].entries()) {
      own = [...(await tailLines(name, Math.max(64 * 1024, limit * 2048))), ...own];
      if (own.length >= limit || (index === 0 && !existsSync(`${file}.1`))) break;
    }
    for (const line of own) lines.push({ source, ts: timeOf(line), line });
  }
  const kept = lines.filter((l) => since === undefined || (l.ts !== null && Date.parse(l.ts) >= since));
  // Stable sort by time; lines without one keep their place after the timed ones of their file.
  kept.sort((a, b) => (a.ts ?? "").localeCompare(b.ts ?? ""));
  return { environment_id: checkEnvArgument(envId), sources, lines: kept.slice(-limit) };
}

/**
 * `op logs -f`: prints each new line of what {@link logs} answered (`from`) until `signal`
 * aborts. Logs on the deployer's host are read on from `from.cursor` every `intervalMs`; log
 * files on this machine from their current end.
 */
export async function followEnvLogs(
  ctx: OperationsContext,
  envId: string,
  options: Pick<LogsOptions, "revision" | "router">,
  from: LogsResult,
  onLine: (line: LogLine) => void,
  signal: AbortSignal,
  intervalMs = 300,
): Promise<void> {
  if (from.cursor === undefined) return followLogs(from.sources, onLine, signal, intervalMs);
  const target = await logTarget(ctx, envId, options);
  let cursor = from.cursor;
  while (!signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    if (signal.aborted) break;
    let r: Awaited<ReturnType<NonNullable<typeof target.deployer.readLogs>>>;
    try {
      r = await target.deployer.readLogs!(target.hctx, {
        revision: target.revision,
        router: options.router,
        lines: 1,
        ...(cursor === null ? {} : { after: cursor }),
      });
    } catch (error) {
      // Ctrl-C reaches the whole process group: a read it interrupted is the end, not a failure.
      if (signal.aborted) break;
      throw error;
    }
    // Without a cursor yet (an empty journal), the first answer only tells where to start.
    if (cursor !== null) for (const line of r.lines) onLine(line);
    cursor = r.cursor ?? cursor;
  }
}

/**
 * Follows the given log files from their current end, calling `onLine` for each new line until
 * `signal` aborts. A file that shrinks (rotated: copied and truncated) is read again from its start.
 */
export async function followLogs(
  sources: readonly LogSource[],
  onLine: (line: LogLine) => void,
  signal: AbortSignal,
  intervalMs = 200,
): Promise<void> {
  const offsets = new Map<string, number>();
  const rest = new Map<string, string>();
  const files = sources.flatMap((s) => (s.file === undefined ? [] : [{ source: s.source, file: s.file }]));
  for (const s of files)
    offsets.set(
      s.file,
      await stat(s.file).then(
        (st) => st.size,
        () => 0,
      ),
    );
  while (!signal.aborted) {
    for (const s of files) {
      const size = await stat(s.file).then(
        (st) => st.size,
        () => 0,
      );
      let offset = offsets.get(s.file) ?? 0;
      if (size < offset) {
        // Rotated (copied, truncated, the copy renamed to `.1`): the lines after our offset are
        // in the copy, once the rename is done.
        for (let i = 0; i < 40 && existsSync(`${s.file}.rotating`); i++)
          await new Promise((resolve) => setTimeout(resolve, 25));
        const copy = await readFile(`${s.file}.1`).catch(() => undefined);
        if (copy !== undefined && copy.length > offset) {
          const text = (rest.get(s.file) ?? "") + copy.subarray(offset).toString("utf8");
          const parts = text.split("\n");
          rest.set(s.file, parts.pop() ?? "");
          for (const line of parts) onLine({ source: s.source, ts: timeOf(line), line });
        }
        offset = 0;
        offsets.set(s.file, 0);
      }
      if (size === offset) continue;
      const handle = await open(s.file, "r").catch(() => undefined);
      if (handle === undefined) continue;
      const buffer = Buffer.alloc(size - offset);
      try {
        await handle.read(buffer, 0, buffer.length, offset);
      } finally {
        await handle.close();
      }
      offsets.set(s.file, size);
      const text = (rest.get(s.file) ?? "") + buffer.toString("utf8");
      const parts = text.split("\n");
      rest.set(s.file, parts.pop() ?? "");
      for (const line of parts) onLine({ source: s.source, ts: timeOf(line), line });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
