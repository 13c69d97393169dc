import { Command, Errors, Flags, type Interfaces } from "@oclif/core";
import { CliInputError, EXIT, classify, renderHumanError } from "./errors.js";
import { humanOutput, successEnvelope } from "./output.js";

export type OpFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof OpCommand)["baseFlags"] & T["flags"]>;
export type OpArgs<T extends typeof Command> = Interfaces.InferredArgs<T["args"]>;

/**
 * Base of every `op` command: global flags, the JSON envelope, and the single mapping from
 * errors to exit codes. Subclasses implement `run()` as parse -> call library -> `this.done()`.
 */
export abstract class OpCommand<T extends typeof Command = typeof Command> extends Command {
  static override baseFlags = {
    json: Flags.boolean({
      description: 'Print a JSON envelope: {"op","noun","result"} on stdout, or {"op","noun","error"} on stderr.',
      helpGroup: "GLOBAL",
    }),
    "store-root": Flags.string({
      description:
        "Environments root of the store (<DIR>/<env_id>/). Default $GREENTIC_HOME/environments, else ~/.greentic/environments.",
      helpGroup: "GLOBAL",
      helpValue: "DIR",
    }),
  };

  /** Envelope noun; defaults to the command id's first word (`traffic set` -> `traffic`). */
  static noun: string | undefined;
  /** Envelope verb; defaults to the command id's last word (`traffic set` -> `set`). */
  static verb: string | undefined;

  protected flags!: OpFlags<T>;
  protected args!: OpArgs<T>;

  protected get noun(): string {
    const ctor = this.constructor as typeof OpCommand;
    return ctor.noun ?? (this.id ?? "op").split(/[: ]/)[0]!;
  }

  protected get verb(): string {
    const ctor = this.constructor as typeof OpCommand;
    const parts = (this.id ?? "op").split(/[: ]/);
    return ctor.verb ?? parts[parts.length - 1]!;
  }

  /** `--json` is detected from argv so that parse errors are reported as JSON too. */
  override jsonEnabled(): boolean {
    const end = this.argv.indexOf("--");
    const i = this.argv.indexOf("--json");
    return i !== -1 && (end === -1 || i < end);
  }

  override async init(): Promise<void> {
    await super.init();
    // oclif reads stdin into a missing positional argument by default; stdin belongs to
    // `--answers -` and `--value-stdin`, so no argument ever takes it.
    const argDefs = Object.fromEntries(
      Object.entries(this.ctor.args ?? {}).map(([k, a]) => [k, { ...a, ignoreStdin: true }]),
    );
    const { args, flags, argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof OpCommand).baseFlags,
      enableJsonFlag: false,
      args: argDefs as typeof this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as OpFlags<T>;
    this.args = args as OpArgs<T>;
    this.positionals = argv as string[];
  }

  /** Every positional argument, including those beyond the declared ones (non-strict commands). */
  protected positionals: string[] = [];

  /** `--store-root`, or undefined for the store's default ($GREENTIC_HOME/environments, else ~/.greentic/environments). */
  protected storeRoot(): string | undefined {
    return (this.flags as { "store-root"?: string })["store-root"];
  }

  /**
   * The operations library and its context for this invocation, loaded lazily (it is the
   * heavy import). Progress events are rendered on stderr in human mode.
   */
  protected async ops() {
    const { loadOps } = await import("./ops.js");
    return loadOps({
      storeRoot: this.storeRoot(),
      onProgress: (event) => {
        if (event.message) this.progress(`  ${event.message}`);
      },
    });
  }

  /** Prints the success: the JSON envelope under `--json`, else the human text (if any). */
  protected done(result: unknown, human?: string | (() => string)): void {
    if (this.jsonEnabled()) {
      process.stdout.write(successEnvelope(this.verb, this.noun, result));
      return;
    }
    const text = humanOutput(typeof human === "function" ? human() : human);
    if (text) process.stdout.write(text);
  }

  /**
   * Declares the exit status of a command that ran to the end: `failed`, what it checked failed
   * (verify, scan, doctor, preflight, credentials validate): exit 1; `exit`, another status
   * (`plan --detailed-exitcode`: 2 = changes pending). With `catch` for errors, the only places
   * a command's exit status is set.
   */
  protected exitStatus(outcome: { failed?: boolean; exit?: number }): void {
    const exit = outcome.exit ?? (outcome.failed === true ? EXIT.failure : EXIT.ok);
    if (exit !== EXIT.ok) process.exitCode = exit;
  }

  /** Progress for long work: stderr, human mode only (JSON consumers read the envelope). */
  protected progress(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`);
  }

  /** Throws a usage error (exit 2). */
  protected usage(message: string, hint?: string): never {
    throw new CliInputError("invalid-argument", message, hint);
  }

  /**
   * Every failure ends here: the error envelope (JSON) or message (human) goes to stderr, and
   * the process exits with the mapped code. `Errors.exit` throws an ExitError that oclif's
   * handler turns into `process.exit(code)` without printing anything else.
   */
  override async catch(err: Error & { oclif?: { exit?: number } }): Promise<never> {
    if (err instanceof Errors.ExitError) throw err;
    const { body, exit } = classify(err);
    if (this.jsonEnabled())
      process.stderr.write(`${JSON.stringify({ op: this.verb, noun: this.noun, error: body })}\n`);
    else process.stderr.write(renderHumanError(body));
    if (process.env.OP_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exit;
    Errors.exit(exit === EXIT.ok ? EXIT.failure : exit);
  }
}
