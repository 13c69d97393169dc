import type { Interfaces } from "@oclif/core";
import * as Errors from "@oclif/core/errors";
import * as Flags from "@oclif/core/flags";
import { CommandBase } from "./command.js";
import { CliInputError, EXIT, type ErrorBody, classify, renderHumanError } from "./errors.js";
import { defaultEnv, inUserWords } from "./inputs.js";
import { humanOutput, successEnvelope } from "./output.js";
import { Progress } from "./progress.js";
import { type ListColumn, type ListShape, UnknownColumnError, escapeControls, renderList } from "./render.js";

export type OpFlags<T extends typeof CommandBase> = Interfaces.InferredFlags<
  (typeof OpCommand)["baseFlags"] & T["flags"]
>;
export type OpArgs<T extends typeof CommandBase> = Interfaces.InferredArgs<T["args"]>;

/**
 * Base of every `op` command: global flags, the JSON envelope, and the single mapping from
 * errors to exit codes. Subclasses implement `run()` as parse -> call library -> `this.done()`.
 */
export abstract class OpCommand<T extends typeof CommandBase = typeof CommandBase> extends CommandBase {
  static override baseFlags = {
    json: Flags.boolean({
      description: 'Print a JSON envelope: {"op","noun","result"} on stdout, or {"op","noun","error"} on stderr.',
      helpGroup: "GLOBAL",
    }),
    "lock-timeout": Flags.integer({
      description:
        "Seconds to wait for another command's lock on the environment before giving up (exit 3). Default 30.",
      helpGroup: "GLOBAL",
      helpValue: "SECONDS",
      min: 0,
    }),
    "store-root": Flags.string({
      description:
        "Environments root of the store (<DIR>/<env_id>/). Default $GREENTIC_HOME/environments, else ~/.greentic/environments.",
      helpGroup: "GLOBAL",
      helpValue: "DIR",
    }),
    store: Flags.string({
      description:
        "A shared store instead of the local one: postgres://USER@HOST:PORT/DATABASE (password in PGPASSWORD or ~/.pgpass). Default $GREENTIC_STORE_URL, else the local store.",
      helpGroup: "GLOBAL",
      helpValue: "URL",
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
      Object.entries(this.ctor.args ?? {}).map(([k, a]) => [k, { ...a, ignoreStdin: true, required: false }]),
    );
    const { args, flags, argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof OpCommand).baseFlags,
      args: argDefs as typeof this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as OpFlags<T>;
    this.positionals = argv as string[];
    this.args = this.placeArgs(args as Record<string, unknown>) as OpArgs<T>;
    this.checkRequiredArgs(this.args as Record<string, unknown>);
  }

  private checkRequiredArgs(args: Record<string, unknown>): void {
    // Required arguments are checked here, after placing (oclif would count ENV as the first).
    const missing = Object.entries(this.ctor.args ?? {}).filter(([k, a]) => a.required && args[k] === undefined);
    if (missing.length > 0) {
      const names = missing.map(([k]) => argName(k));
      throw new CliInputError(
        "invalid-argument",
        `missing ${names.join(" and ")}: usage: op ${this.commandName()} ${Object.keys(this.ctor.args ?? {})
          .map((k) => (this.ctor.args![k]!.required ? argName(k) : `[${argName(k)}]`))
          .join(" ")}`,
        `see \`op ${this.commandName()} --help\``,
      );
    }
  }

  /**
   * `[ENV] X` commands: the environment is optional in front, so a lone positional is the
   * second one (`op revisions warm 01JB7Z` warms a revision of the default environment) unless
   * {@link envGiven} says otherwise. Read verbs get the default environment filled in here;
   * mutating verbs fill it in with their payload (the answers file may carry it).
   */
  private placeArgs(args: Record<string, unknown>): Record<string, unknown> {
    const keys = Object.keys(this.ctor.args ?? {});
    if (keys[0] !== "env") return args;
    const given = this.positionals.length;
    if (keys.length > 1 && given > 0 && !this.envGiven(this.positionals)) {
      const out: Record<string, unknown> = { env: undefined };
      // Strict commands: shift every declared argument one place to the right.
      keys.slice(1).forEach((k, i) => {
        out[k] = this.positionals[i];
      });
      if (this.ctor.strict === false) this.positionals = [defaultEnv(), ...this.positionals];
      args = out;
    }
    if (args.env === undefined && !this.envFromPayload()) {
      args = { ...args, env: defaultEnv() };
      if (this.ctor.strict === false && this.positionals.length === 0) this.positionals = [defaultEnv()];
    }
    return args;
  }

  /**
   * Whether the first positional is the environment. Default: when all declared positionals
   * are given (non-strict commands override this, e.g. `traffic set` entries contain `=`).
   */
  protected envGiven(positionals: readonly string[]): boolean {
    return positionals.length >= Object.keys(this.ctor.args ?? {}).length;
  }

  /** True for commands whose payload (an answers file) may carry the environment id. */
  protected envFromPayload(): boolean {
    return false;
  }

  /** "Did you mean" for an unknown flag: the closest flags of this command. */
  private async suggestFlag(body: ErrorBody): Promise<void> {
    const m = /^Nonexistent flags?: (\S+)/m.exec(body.message);
    if (m === null) return;
    const unknown = m[1]!.split(",")[0]!.split("=")[0]!;
    const { alternatives, closest } = await import("./suggest.js");
    const known = Object.keys({ ...this.ctor.flags, ...(this.ctor as typeof OpCommand).baseFlags }).map(
      (f) => `--${f}`,
    );
    const matches = closest(unknown, known);
    body.message = `unknown flag ${unknown} for op ${this.commandName()}`;
    body.hint =
      matches.length > 0
        ? `did you mean ${alternatives(matches)}? (\`op ${this.commandName()} --help\` lists the flags)`
        : `\`op ${this.commandName()} --help\` lists the flags`;
  }

  /** The command as typed, with spaces: `traffic set` (never oclif's `traffic:set`). */
  protected commandName(): string {
    return (this.id ?? "").replaceAll(":", " ");
  }

  /**
   * What error messages should say instead of payload field names: field -> flag or argument,
   * and the payload's source. Mutating commands fill it (see `MutatingCommand.payload`).
   */
  protected userWords(): { fields: ReadonlyMap<string, string>; source: string } {
    return { fields: new Map(), source: "flags" };
  }

  /** Every positional argument, including those beyond the declared ones (non-strict commands). */
  protected positionals: string[] = [];

  /** The environment argument, defaulted ($GREENTIC_ENV, else local). */
  protected get env(): string {
    return ((this.args as { env?: string }).env ?? defaultEnv()) as string;
  }

  /** `--store-root`, or undefined for the store's default ($GREENTIC_HOME/environments, else ~/.greentic/environments). */
  protected storeRoot(): string | undefined {
    return (this.flags as { "store-root"?: string })["store-root"];
  }

  /**
   * The operations library and its context for this invocation, loaded lazily (it is the
   * heavy import). Progress events are rendered on stderr in human mode.
   */
  /**
   * The shared store's URL and where it came from: `--store`, else a non-empty
   * $GREENTIC_STORE_URL; undefined for the local store. `--store` with `--store-root` is a
   * usage error.
   */
  protected storeUrl(): { url: string; source: string } | undefined {
    const flag = (this.flags as { store?: string }).store;
    if (flag !== undefined) {
      if (this.storeRoot() !== undefined)
        throw new CliInputError(
          "invalid-argument",
          "--store and --store-root name two different stores",
          "pass one: --store for a shared PostgreSQL store, --store-root for a local directory",
          "--store",
        );
      return { url: flag, source: "--store" };
    }
    const env = process.env.GREENTIC_STORE_URL ?? "";
    if (env !== "" && this.storeRoot() === undefined) return { url: env, source: "GREENTIC_STORE_URL" };
    return undefined;
  }

  protected async ops() {
    const { loadOps } = await import("./ops.js");
    const lockTimeout = (this.flags as { "lock-timeout"?: number })["lock-timeout"];
    return loadOps({
      storeUrl: this.storeUrl(),
      storeRoot: this.storeRoot(),
      lockTimeoutMs: lockTimeout === undefined ? undefined : lockTimeout * 1000,
      opVersion: this.config.version,
      onProgress: (event) => {
        if (event.message) this.progress(`  ${event.message}`);
      },
    });
  }

  /** Prints the success: the JSON envelope under `--json`, else the human text (if any). */
  protected done(result: unknown, human?: string | (() => string)): void {
    this.endProgress();
    if (this.jsonEnabled()) {
      process.stdout.write(successEnvelope(this.verb, this.noun, result));
      return;
    }
    const text = humanOutput(typeof human === "function" ? human() : human);
    // Stored strings (names, regions, bundle ids) must not drive the terminal.
    if (text) process.stdout.write(escapeControls(text));
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

  /**
   * Prints a list: the JSON envelope of `result` under `--json`, else the rows shaped by the
   * list flags (`--columns`, `--sort`, `--filter`, `--no-header`, `--output`).
   */
  protected async list<R>(
    result: unknown,
    rows: readonly R[],
    columns: readonly ListColumn<R>[],
    empty: string,
    heading = "",
  ): Promise<void> {
    this.endProgress();
    let text: string;
    try {
      // Rendered under --json too, so that a misspelt column is refused there as well.
      text = await renderList(rows, columns, this.flags as ListShape, empty);
    } catch (error) {
      if (!(error instanceof UnknownColumnError)) throw error;
      throw new CliInputError(
        "invalid-argument",
        error.message,
        `e.g. ${error.flag} ${error.known[0] ?? ""}`,
        error.flag,
      );
    }
    if (this.jsonEnabled()) return this.done(result);
    const table = (this.flags as ListShape).output === "table" || (this.flags as ListShape).output === undefined;
    process.stdout.write(escapeControls(table ? heading + text : text));
  }

  private progressLine: Progress | undefined;

  /**
   * Progress for long work: stderr, human mode only (JSON consumers read the envelope). A
   * spinner with the elapsed time on a terminal, plain lines elsewhere (see `Progress`).
   */
  protected progress(message: string): void {
    if (this.jsonEnabled()) return;
    this.progressLine ??= new Progress();
    this.progressLine.step(escapeControls(message));
  }

  /** Ends the progress line before the result or the error is printed. */
  protected endProgress(): void {
    this.progressLine?.finish();
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
    this.endProgress();
    const { body, exit } = classify(err);
    await this.suggestFlag(body);
    const { fields, source } = this.userWords();
    body.message = inUserWords(body.message, fields, source);
    if (body.hint !== undefined) body.hint = inUserWords(body.hint, fields, source);
    if (body.path !== undefined) body.path = inUserWords(body.path, fields, source);
    if (body.issues !== undefined)
      body.issues = body.issues.map((i) => ({
        ...i,
        path: inUserWords(i.path, fields, source),
        message: inUserWords(i.message, fields, source),
      }));
    if (this.jsonEnabled())
      process.stderr.write(`${JSON.stringify({ op: this.verb, noun: this.noun, error: body })}\n`);
    else process.stderr.write(escapeControls(renderHumanError(body)));
    if (process.env.OP_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exit;
    Errors.exit(exit === EXIT.ok ? EXIT.failure : exit);
  }
}

/** How usage lines name a positional argument: `revision` -> `REV`, `env` -> `ENV`. */
function argName(key: string): string {
  return key === "revision" ? "REV" : key.toUpperCase();
}
