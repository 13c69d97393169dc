import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, closeSync, fstatSync, ftruncateSync, openSync, readSync, statSync } from "node:fs";
import { copyFile, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isAlive } from "./process-utils.js";

// Runs inside the router process (Node built-ins only): the router outlives every `op` call, so
// it is where a crashed revision is noticed and started again.

/** How to start a revision's runtime again: recorded by the deployer when it first starts it. */
export interface LaunchSpec {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** The runtime's `listen.json` (ports), removed before each start. */
  listen_file: string;
  [field: string]: unknown;
}

/** `processes/<revision_id>.json` as the supervisor reads and rewrites it (unknown fields kept). */
export interface SupervisedRecord {
  revision_id: string;
  pid: number;
  public_port: number | null;
  admin_port: number | null;
  started_at: string;
  log: string;
  launch?: LaunchSpec;
  /** Restarts made by the supervisor since the deployer started the revision. */
  restarts?: number;
  last_restart_at?: string;
  /** Set while the supervisor waits out its backoff before the next start. */
  down_since?: string;
  [field: string]: unknown;
}

/** A log file is rotated once it is larger than this (bytes). */
export const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
/** Rotated generations kept beside a log (`.1` newest). */
export const LOG_KEEP = 3;

/**
 * Rotates `file` when it is larger than `maxBytes`: a copy (`file.rotating`), the file
 * truncated in place, then `.1` → `.2` … (the oldest dropped) and the copy renamed to `.1`.
 * Copy-and-truncate because the runtime and the router keep writing to their open descriptor
 * (opened with O_APPEND, so they continue at the new end). A line written in the instant
 * between the last size check and the truncation can be lost; the disk cannot fill up.
 */
export async function rotateLog(file: string, maxBytes = LOG_ROTATE_BYTES, keep = LOG_KEEP): Promise<boolean> {
  const size = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size <= maxBytes) return false;
  // Copied to a temporary name first: `.1` appears (by rename) only once the file is truncated,
  // so a reader never sees the same lines in both.
  const temp = `${file}.rotating`;
  await copyFile(file, temp);
  // Lines the writer appended during the copy go to the copy as well. The catch-up and the
  // truncation are synchronous and back to back: nothing else of this process (and no thread
  // pool queue under load) runs between the final size check and the truncation, so what can
  // be lost is only a line landing in those microseconds.
  let copied = statSync(temp).size;
  const fd = openSync(file, "r+");
  try {
    for (let i = 0; i < 10; i++) {
      const now = fstatSync(fd).size;
      if (now <= copied) break;
      const extra = Buffer.alloc(now - copied);
      const read = readSync(fd, extra, 0, extra.length, copied);
      appendFileSync(temp, extra.subarray(0, read));
      copied += read;
    }
    ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
  await rm(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) await rename(`${file}.${i}`, `${file}.${i + 1}`).catch(() => undefined);
  await rename(temp, `${file}.1`);
  return true;
}

/** Options of {@link startSupervisor}. */
export interface SupervisorOptions {
  /** The deployer's `processes` directory. */
  processesDir: string;
  /** Poll period (default 250 ms). */
  intervalMs?: number;
  /** First backoff delay; doubled per consecutive crash up to `maxBackoffMs` (defaults 250 ms, 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A revision that stayed up this long has its backoff reset (default 60 s). */
  resetAfterMs?: number;
  /** Other logs to keep rotated (the router's own). */
  logs?: string[];
  /** Rotation threshold in bytes (default {@link LOG_ROTATE_BYTES}). */
  rotateBytes?: number;
  /** Called once a restarted revision listens again, so the router sends requests to its new port. */
  onPort(revisionId: string, port: number): void;
  log(event: Record<string, unknown>): void;
}

/** A started supervisor. */
export interface Supervisor {
  stop(): void;
}

async function readRecord(file: string): Promise<SupervisedRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as SupervisedRecord;
  } catch {
    return undefined;
  }
}

async function writeRecord(file: string, record: SupervisedRecord): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file).catch(async (error: unknown) => {
    await rm(temp, { force: true });
    throw error;
  });
}

/**
 * Watches every process record that carries a launch spec. A revision whose process is gone
 * is started again with the same command, environment and log, after a backoff that doubles
 * with each crash in a row; its record gets the new pid and ports and `restarts + 1`. A record
 * the deployer removed (drain, archive, destroy) is never restarted: the deployer removes the
 * record before it stops the process.
 */
export function startSupervisor(options: SupervisorOptions): Supervisor {
  const interval = options.intervalMs ?? 250;
  const base = options.backoffMs ?? 250;
  const max = options.maxBackoffMs ?? 30_000;
  const resetAfter = options.resetAfterMs ?? 60_000;
  // Per revision: crashes in a row and when the next start is allowed.
  const state = new Map<string, { streak: number; notBefore: number; busy: boolean }>();
  let stopped = false;

  async function restart(file: string, record: SupervisedRecord, launch: LaunchSpec): Promise<void> {
    await rm(launch.listen_file, { force: true });
    const log = await open(record.log, "a", 0o600);
    let pid: number | undefined;
    try {
      const child = spawn(launch.argv[0]!, launch.argv.slice(1), {
        detached: true,
        stdio: ["ignore", log.fd, log.fd],
        cwd: launch.cwd,
        env: launch.env,
      });
      child.on("error", () => {});
      child.unref();
      pid = child.pid;
    } finally {
      await log.close();
    }
    if (pid === undefined) throw new Error(`could not start ${launch.argv.join(" ")}`);
    // Compare and swap: the deployer may have stopped or restarted the revision meanwhile.
    const current = await readRecord(file);
    if (current === undefined || current.pid !== record.pid) {
      try {
        process.kill(-pid, "SIGTERM");
      } catch {}
      return;
    }
    const now = new Date().toISOString();
    const next: SupervisedRecord = {
      ...current,
      pid,
      public_port: null,
      admin_port: null,
      started_at: now,
      restarts: (current.restarts ?? 0) + 1,
      last_restart_at: now,
    };
    delete next.down_since;
    await writeRecord(file, next);
    options.log({
      level: "warn",
      msg: "revision restarted",
      revision_id: record.revision_id,
      old_pid: record.pid,
      pid,
      restarts: next.restarts,
    });
    // The new ports, once the runtime reports them.
    const deadline = Date.now() + 30_000;
    while (!stopped && Date.now() < deadline && (await isAlive(pid))) {
      const listen = await readFile(launch.listen_file, "utf8")
        .then((text) => JSON.parse(text) as { public?: { port?: number }; admin?: { port?: number } })
        .catch(() => undefined);
      const publicPort = listen?.public?.port;
      const adminPort = listen?.admin?.port;
      if (typeof publicPort === "number" && typeof adminPort === "number") {
        const latest = await readRecord(file);
        if (latest?.pid !== pid) return;
        await writeRecord(file, { ...latest, public_port: publicPort, admin_port: adminPort });
        options.onPort(record.revision_id, publicPort);
        options.log({
          level: "info",
          msg: "revision listening again",
          revision_id: record.revision_id,
          pid,
          port: publicPort,
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  let lastRotation = 0;
  async function check(): Promise<void> {
    const rotate = Date.now() - lastRotation > 2_000;
    if (rotate) {
      lastRotation = Date.now();
      for (const file of options.logs ?? []) await rotateLog(file, options.rotateBytes).catch(() => undefined);
    }
    let names: string[];
    try {
      names = await readdir(options.processesDir);
    } catch {
      return;
    }
    const now = Date.now();
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const file = join(options.processesDir, name);
      const record = await readRecord(file);
      if (record?.launch === undefined || typeof record.pid !== "number") continue;
      if (rotate) await rotateLog(record.log, options.rotateBytes).catch(() => undefined);
      let s = state.get(record.revision_id);
      if (s === undefined) {
        s = { streak: 0, notBefore: 0, busy: false };
        state.set(record.revision_id, s);
      }
      if (s.busy) continue;
      if (await isAlive(record.pid)) {
        if (s.streak > 0 && now - Date.parse(record.started_at) > resetAfter) s.streak = 0;
        continue;
      }
      if (s.notBefore === 0) {
        // First sight of the crash: wait out the backoff, and say so in the record.
        s.notBefore = now + Math.min(max, base * 2 ** s.streak);
        options.log({ level: "warn", msg: "revision down", revision_id: record.revision_id, pid: record.pid });
        await writeRecord(file, { ...record, down_since: new Date(now).toISOString() }).catch(() => undefined);
      }
      if (now < s.notBefore) continue;
      s.busy = true;
      s.streak += 1;
      s.notBefore = 0;
      void restart(file, record, record.launch)
        .catch((error: Error) =>
          options.log({ level: "error", msg: "restart failed", revision_id: record.revision_id, error: error.message }),
        )
        .finally(() => {
          s.busy = false;
        });
    }
  }

  let running = false;
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = true;
    void check().finally(() => {
      running = false;
    });
  }, interval);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
