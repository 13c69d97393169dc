// A private PostgreSQL cluster for tests: initdb in a temporary directory, started by pg_ctl on
// a free loopback port and its own socket directory, stopped by its data directory. Nothing is
// mocked. initdb refuses to run as root, so as root the cluster belongs to the `postgres` user
// (the Debian package creates it) and every command runs through runuser.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { release, track } from "./leftovers.ts";

export interface PgCluster {
  dir: string;
  port: number;
  /** Superuser URL over TCP (trust authentication on loopback). */
  url: string;
  /** URL of `database` as `user` (optionally with a password). */
  urlFor(user: string, options?: { database?: string; password?: string }): string;
  /** Runs SQL through psql as the superuser; returns stdout. */
  psql(sql: string, database?: string): string;
  stop(): void;
  start(): void;
}

/** The newest PostgreSQL server binaries Debian installed, or undefined. */
export function pgBinDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], "bin");
}

/**
 * Why the cluster cannot be started here, or undefined. Under CI a missing PostgreSQL is a
 * failure (the caller throws), never a skip: `.ci/run` installs it through scripts/setup.sh.
 */
export function pgUnavailable(): string | undefined {
  if (pgBinDir() === undefined) return "PostgreSQL server binaries are missing (apt-get install postgresql)";
  if (process.getuid?.() === 0 && spawnSync("id", ["-u", "postgres"]).status !== 0)
    return "running as root and there is no postgres user to own the cluster";
  return undefined;
}

/** Under CI a missing PostgreSQL fails the suite; elsewhere it skips with the reason. */
export function pgSkip(): string | undefined {
  const why = pgUnavailable();
  if (why !== undefined && process.env.CI) throw new Error(`PostgreSQL is required under CI: ${why}`);
  return why;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * `durable`: keep fsync on (benchmarks that compare against the local store's fsyncs); tests
 * run with fsync off, which changes no semantics they check.
 */
export async function startPgCluster(
  options: { durable?: boolean; settings?: Record<string, string> } = {},
): Promise<PgCluster> {
  const unavailable = pgUnavailable();
  if (unavailable !== undefined) throw new Error(`cannot start a PostgreSQL cluster: ${unavailable}`);
  const bin = pgBinDir()!;
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "gt-pg-"));
  // The server is detached: if this worker dies before stop(), the run's teardown stops it.
  track({ dir });
  // The cluster's owner must enter the directory (root's temp dirs are 0700).
  chmodSync(dir, 0o755);
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]): string => {
    const [file, argv] = asRoot
      ? ["runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  };
  run("initdb", ["-D", join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const settings = Object.entries(options.settings ?? {})
    .map(([k, v]) => ` -c ${k}=${v}`)
    .join("");
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100${options.durable ? "" : " -c fsync=off"}${settings}`;
  const start = (): void => {
    run("pg_ctl", ["-D", join(dir, "data"), "-o", serverOptions, "-l", join(dir, "log"), "-w", "start"]);
  };
  const stop = (): void => {
    try {
      run("pg_ctl", ["-D", join(dir, "data"), "-m", "fast", "-w", "stop"]);
    } catch {
      // already stopped
    }
  };
  start();
  const urlFor = (user: string, o: { database?: string; password?: string } = {}): string =>
    `postgres://${encodeURIComponent(user)}${o.password === undefined ? "" : `:${encodeURIComponent(o.password)}`}@127.0.0.1:${port}/${o.database ?? "postgres"}`;
  return {
    dir,
    port,
    url: urlFor("postgres"),
    urlFor,
    psql: (sql, database = "postgres") =>
      execFileSync(
        join(bin, "psql"),
        [
          "-X",
          "-q",
          "-A",
          "-t",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          "127.0.0.1",
          "-p",
          String(port),
          "-U",
          "postgres",
          "-d",
          database,
          "-c",
          sql,
        ],
        { encoding: "utf8" },
      ),
    start,
    stop: () => {
      stop();
      rmSync(dir, { recursive: true, force: true });
      release(dir);
    },
  } satisfies PgCluster & { stop(): void };
}

/** Stops the server but keeps its data (a restart test); `start()` brings it back. */
export function pauseCluster(cluster: PgCluster): void {
  const bin = pgBinDir()!;
  const args = ["-D", join(cluster.dir, "data"), "-m", "fast", "-w", "stop"];
  if (process.getuid?.() === 0) execFileSync("runuser", ["-u", "postgres", "--", join(bin, "pg_ctl"), ...args]);
  else execFileSync(join(bin, "pg_ctl"), args);
}
