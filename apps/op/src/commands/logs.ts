import * as Flags from "@oclif/core/flags";
import type { LogLine } from "@greentic/operations";
import { envArg, revisionArg } from "../lib/args.js";
import { OpCommand } from "../lib/base.js";

const render = (l: LogLine) =>
  `${l.source === "router" || l.source === "rollout" ? l.source : l.source.slice(-8)}  ${l.line}\n`;

export default class Logs extends OpCommand<typeof Logs> {
  static override noun = "logs";
  static override verb = "show";
  static override summary =
    "Show the logs of an environment's revisions and router (local: their files; single VM: their units' journal).";
  static override description =
    `Without a revision, every revision's runtime log and the router's are merged by time; each line is prefixed with the revision id's last 8 characters (or "router"). With -f, new lines are printed as they are written until Ctrl-C; with --json and -f each line is one JSON object {source, ts, line}. Log files are rotated at 10 MiB (GREENTIC_LOCAL_LOG_ROTATE_BYTES, at least 4096, read when the router starts; three older generations, .1 newest); -n reads on into the older generations when the current file has fewer lines, and -f follows across a rotation. A single-VM environment's logs are the systemd journal of each revision's unit, the proxy's (--router) and the rollout runner's, read on the VM through the deployer's own executor, and the proxy's request lines from HAProxy's in-memory ring (one per request since its last reload, a warm or a drain); a canary revision's own requests are its lines of that ring, shown under the revision's name, since behind the proxy it writes none to the journal; -f reads on from the journal's cursor and the ring's last line.`;
  static override examples = [
    "<%= config.bin %> logs",
    "<%= config.bin %> logs local --router -n 20",
    "<%= config.bin %> logs local 01JB7Z6S4Y2M3N4P5Q6R7S8T9V --since 10m",
    "<%= config.bin %> logs local -f",
  ];
  static override args = {
    env: envArg,
    revision: revisionArg,
  };
  static override flags = {
    router: Flags.boolean({ description: "Only the router's log." }),
    follow: Flags.boolean({ char: "f", description: "Keep printing new lines until interrupted." }),
    since: Flags.string({
      description: "Only lines since a duration ago (10m, 2h, 30s, 1d) or an RFC 3339 time.",
      helpValue: "WHEN",
    }),
    lines: Flags.integer({ char: "n", description: "The newest N lines (default 100).", min: 1, helpValue: "N" }),
  };

  /** A lone positional is the environment unless it reads as a revision reference. */
  protected override envGiven(positionals: readonly string[]): boolean {
    if (positionals.length !== 1) return positionals.length >= 2;
    return !/^(@\d+|latest|previous|stable|[0-9A-HJKMNP-TV-Z]{6,26})$/iu.test(positionals[0]!);
  }

  override async run(): Promise<void> {
    const { ops, ctx } = await this.ops();
    const options = {
      revision: this.args.revision,
      router: this.flags.router,
      since: this.flags.since,
      lines: this.flags.lines,
    };
    const r = await ops.logs(ctx, this.env, options);
    if (!this.flags.follow) {
      this.done(r, () => r.lines.map(render).join("") || "No log lines.\n");
      return;
    }
    const json = this.jsonEnabled();
    const print = (l: LogLine) => process.stdout.write(json ? `${JSON.stringify(l)}\n` : render(l));
    for (const l of r.lines) print(l);
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.once("SIGTERM", () => stop.abort());
    await ops.followEnvLogs(ctx, this.env, options, r, print, stop.signal);
  }
}
