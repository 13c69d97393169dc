/** One structured log record; `ts` and `level` are filled in by the logger. */
export type LogFields = Record<string, unknown>;

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Receives finished log records (`{ts, level, msg, ...fields}`). */
export type LogSink = (record: LogFields) => void;

/** Writes each record as one JSON line on stdout: the runtime's only log destination. */
export const stdoutSink: LogSink = (record) => {
  process.stdout.write(`${JSON.stringify(record)}\n`);
};

/** A small structured logger: `log.info("listening", {port})` → `{"ts","level","msg","port"}`. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function createLogger(sink: LogSink = stdoutSink): Logger {
  const at =
    (level: LogLevel) =>
    (msg: string, fields: LogFields = {}) => {
      sink({ ts: new Date().toISOString(), level, msg, ...fields });
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
