import type { Interfaces } from "@oclif/core";
import * as Errors from "@oclif/core/errors";
import { parse } from "@oclif/core/parser";

/** What a command reads of its configuration: op's version (oclif's `Config` has it too). */
export interface CommandConfig {
  version: string;
}

/**
 * The base of every `op` command: what op uses of oclif's `Command`, and nothing more. oclif's
 * class loads its configuration, plugins, help and terminal kit with it (about half of a
 * start-up); this one needs only oclif's argument parser, so src/start.ts runs a command
 * without them. oclif still reads the statics below for help, the manifest and completion, and
 * can run a command itself through the static `run` (it does for `completion words`, which asks
 * for oclif's whole configuration).
 */
export abstract class CommandBase {
  static id: string | undefined;
  static summary: string | undefined;
  static description: string | undefined;
  static examples: Array<string | { description: string; command: string }> | undefined;
  static usage: string | string[] | undefined;
  static hidden = false;
  static aliases: string[] = [];
  static hiddenAliases: string[] = [];
  static strict = true;
  static enableJsonFlag = false;
  static args: Interfaces.ArgInput = {};
  static flags: Interfaces.FlagInput = {};
  static baseFlags: Interfaces.FlagInput = {};
  /** True for a command that needs oclif's whole configuration (src/start.ts hands it to oclif). */
  static needsOclifConfig = false;

  /** oclif's way in: `Command.run(argv, config)`, as oclif's own class offers it. */
  static async run(
    this: new (
      argv: string[],
      config: CommandConfig,
    ) => CommandBase,
    argv: string[],
    config: CommandConfig,
  ) {
    return new this(argv, config)._run();
  }

  readonly id: string | undefined;

  constructor(
    public argv: string[],
    public readonly config: CommandConfig,
  ) {
    this.id = this.ctor.id;
  }

  get ctor(): typeof CommandBase {
    return this.constructor as typeof CommandBase;
  }

  /** init, run, and every failure to `catch`, as oclif's `Command` runs a command. */
  async _run(): Promise<void> {
    try {
      await this.init();
      await this.run();
    } catch (error) {
      await this.catch(error as Error);
    }
  }

  abstract run(): Promise<void>;

  async init(): Promise<void> {}

  async catch(err: Error): Promise<void> {
    throw err;
  }

  jsonEnabled(): boolean {
    return false;
  }

  /** oclif's parser over `argv` with the given definitions (base flags first, as oclif merges them). */
  protected async parse(options: {
    flags?: Interfaces.FlagInput;
    baseFlags?: Interfaces.FlagInput;
    args?: Interfaces.ArgInput;
    strict?: boolean;
  }) {
    return parse(this.argv, {
      context: this as never,
      args: options.args ?? {},
      flags: { ...options.baseFlags, ...options.flags },
      strict: options.strict !== false,
    });
  }

  /** Ends the command with `code` (oclif's ExitError, which the runner turns into the exit status). */
  exit(code = 0): never {
    Errors.exit(code);
  }
}
