/**
 * Progress on stderr. On a terminal, the current step is one line redrawn in place with a
 * spinner and its elapsed time once it has run for 300 ms, and marked done when the next step
 * starts; elsewhere (a pipe, a log file, CI) each step is one plain line. Never stdout, so
 * `--json` output stays clean. No imports.
 */

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Steps shorter than this never show a spinner. */
const SHOW_AFTER_MS = 300;

export class Progress {
  private current: { text: string; started: number } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private frame = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly tty = stream.isTTY === true && process.env.TERM !== "dumb",
  ) {}

  /** Starts a step (ending the previous one). */
  step(text: string): void {
    if (!this.tty) {
      this.stream.write(`${text}\n`);
      return;
    }
    this.finish();
    this.current = { text, started: Date.now() };
    this.timer = setInterval(() => this.draw(), 100);
    // The spinner must not keep the process alive.
    this.timer.unref();
  }

  /** Ends the current step: its line stays, with the time it took if it was shown. */
  finish(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const cur = this.current;
    this.current = undefined;
    if (cur === undefined) return;
    const elapsed = Date.now() - cur.started;
    this.clearLine();
    this.stream.write(`${cur.text}${elapsed >= SHOW_AFTER_MS ? ` (${seconds(elapsed)})` : ""}\n`);
  }

  private draw(): void {
    const cur = this.current;
    if (cur === undefined) return;
    const elapsed = Date.now() - cur.started;
    if (elapsed < SHOW_AFTER_MS) return;
    this.frame = (this.frame + 1) % FRAMES.length;
    const columns = this.stream.columns ?? 80;
    const line = `${FRAMES[this.frame]} ${cur.text} (${seconds(elapsed)})`;
    this.stream.write(`\r\u001b[2K${line.length > columns - 1 ? `${line.slice(0, columns - 2)}…` : line}`);
    this.drawn = true;
  }

  private clearLine(): void {
    if (this.drawn) this.stream.write("\r\u001b[2K");
    this.drawn = false;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
