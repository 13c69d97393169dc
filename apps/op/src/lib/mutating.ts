import * as Flags from "@oclif/core/flags";
import { loadAnswers } from "./answers.js";
import { OpCommand } from "./base.js";
import type { CommandBase } from "./command.js";
import { CliInputError } from "./errors.js";
import { defaultEnv, FIELD_INPUTS } from "./inputs.js";
import { printAnswersSchema } from "./schema.js";

/** Flags every mutating verb has. */
export const answersFlags = {
  answers: Flags.string({
    char: "a",
    description:
      "Payload file, JSON or YAML (detected from the content); - reads stdin. The canonical, reproducible input.",
    helpValue: "FILE",
  }),
  schema: Flags.boolean({ description: "Print the JSON Schema (2020-12) of the answers payload and exit." }),
  example: Flags.boolean({ description: "Print a complete, commented example answers file and exit." }),
  interactive: Flags.boolean({
    description:
      "On a terminal, ask for required input that is missing (default); --no-interactive fails instead, as off a terminal.",
    allowNo: true,
    default: true,
  }),
};

/** `--idempotency-key`, for verbs whose payload may omit it. */
export const idempotencyFlag = {
  "idempotency-key": Flags.string({
    description:
      "Retry key: the same key with the same payload replays the first result; with another payload it is refused (exit 3).",
    helpValue: "KEY",
  }),
};

/** Optimistic-concurrency preconditions on the environment document. */
export const preconditionFlags = {
  "if-match": Flags.string({
    description:
      'Apply only if the environment\'s ETag is still this value (64 hex digits, from `op env show`; quotes allowed). Weak (W/"...") and wildcard (*) ETags are refused.',
    helpValue: "ETAG",
    // Refused here, at the flag, so that a form the store cannot compare is a usage error (exit 2).
    parse: async (input) => {
      const etag = input.trim().replace(/^"(.*)"$/, "$1");
      if (/^[0-9a-f]{64}$/i.test(etag)) return etag.toLowerCase();
      const why =
        input.trim() === ""
          ? "is empty"
          : /^W\//i.test(input.trim())
            ? "is a weak ETag (W/...); op compares strong ETags only"
            : input.trim() === "*"
              ? 'is the wildcard "*"; name the ETag you last saw'
              : "is not an ETag (64 hexadecimal digits)";
      throw new CliInputError(
        "invalid-argument",
        `--if-match ${JSON.stringify(input)} ${why}`,
        "copy the etag from `op env show --json`",
        "--if-match",
      );
    },
  }),
  "expected-generation": Flags.integer({
    description: "Apply only if the environment is still at this generation.",
    min: 0,
    helpValue: "N",
  }),
};

export interface Precondition {
  if_match?: string;
  expected_generation?: number;
}

/** A revision reference inside the payload that a command resolves before validation. */
export interface PayloadRef {
  /** How messages name it (`REV=WEIGHT #1`, `REV`). */
  label: string;
  value: string;
  set: (id: string) => void;
}

/** Placeholder ULIDs standing in for references until they are resolved (pre-validation only). */
const placeholder = (i: number) => String(i + 1).padStart(26, "0");
const PLACEHOLDER_ULID = placeholder(-1);

/**
 * A mutating verb: its payload comes from `--answers` (canonical) and/or the command line, as
 * declared once in {@link FIELD_INPUTS}, and is validated against the verb's answers schema
 * before anything is looked up. Short references (`--deployment hello`, `REV` = `@2`, `latest`)
 * are resolved against the store between a first validation and the last.
 */
export abstract class MutatingCommand<T extends typeof CommandBase = typeof CommandBase> extends OpCommand<T> {
  /** Key into deploy-spec's ANSWERS_SCHEMAS, e.g. `"traffic set"`. */
  static answersKey: string;

  protected get answersKey(): string {
    return (this.constructor as typeof MutatingCommand).answersKey;
  }

  /** `--schema`: prints the schema and returns true (the caller stops). */
  protected async handledSchema(): Promise<boolean> {
    const f = this.flags as { schema?: boolean; example?: boolean };
    if (f.example) {
      const [{ answersJsonSchema }, { exampleAnswers }] = await Promise.all([
        import("./schema.js"),
        import("./example.js"),
      ]);
      const schema = await answersJsonSchema(this.answersKey);
      process.stdout.write(await exampleAnswers(this.commandName(), schema));
      return true;
    }
    if (!f.schema) return false;
    await printAnswersSchema(this.answersKey);
    return true;
  }

  protected override envFromPayload(): boolean {
    return true;
  }

  /**
   * With `--answers`, a lone positional is the environment (the file carries the rest) unless
   * it reads as a revision reference of an `[ENV] REV` command.
   */
  protected override envGiven(positionals: readonly string[]): boolean {
    if ((this.flags as { answers?: string }).answers !== undefined && positionals.length === 1)
      return !("revision" in (this.ctor.args ?? {}) && looksLikeRevisionRef(positionals[0]!));
    return super.envGiven(positionals);
  }

  /** Fields given on the command line (or missing with no answers file): field -> flag/argument. */
  protected cliFields = new Map<string, string>();

  protected override userWords(): { fields: ReadonlyMap<string, string>; source: string } {
    return { fields: this.cliFields, source: this.source };
  }

  /** Revision references inside the payload (traffic entries); none by default. */
  protected payloadRefs(_input: Record<string, unknown>): PayloadRef[] {
    return [];
  }

  /**
   * Builds and validates the payload: the answers file (if any), then the fields given on the
   * command line as declared in {@link FIELD_INPUTS} (`computed` carries the ones the command
   * derives itself). A command-line value may fill a field the file lacks; one that
   * contradicts the file is a usage error. Without an answers file the environment defaults to
   * $GREENTIC_ENV, else local.
   */
  protected async payload<P = any>(computed: Record<string, unknown> = {}): Promise<P> {
    const inputs = FIELD_INPUTS[this.answersKey] ?? {};
    const flags = this.flags as Record<string, unknown>;
    const args = this.args as Record<string, unknown>;
    const given: Record<string, unknown> = {};
    for (const [field, input] of Object.entries(inputs)) {
      const value =
        input.flag !== undefined ? flags[input.flag] : input.arg !== undefined ? args[input.arg] : undefined;
      if (value !== undefined) given[field] = value;
    }
    // Values the command derives itself (and any field a command passes explicitly).
    for (const [field, value] of Object.entries(computed)) if (value !== undefined) given[field] = value;
    const file = (flags as { answers?: string }).answers;
    let source = "flags";
    let input: Record<string, unknown> = {};
    const shown = (field: string) => inputs[field]?.shown ?? field;
    if (file !== undefined) {
      const loaded = await loadAnswers(file);
      source = loaded.source;
      input = { ...(loaded.value as Record<string, unknown>) };
      for (const [field, value] of Object.entries(given)) {
        if (field in input && JSON.stringify(input[field]) !== JSON.stringify(value)) {
          throw new CliInputError(
            "invalid-argument",
            `${shown(field)} says ${JSON.stringify(value)} but ${source} says ${field}: ${JSON.stringify(input[field])}`,
            "give the value in one place only",
            shown(field),
          );
        }
        input[field] = value;
      }
    } else {
      input = { ...given };
    }
    this.source = source;
    // Fields the user gives (or must give) on the command line are named by their flag.
    for (const [field, i] of Object.entries(inputs))
      if (file === undefined || field in given) this.cliFields.set(field, i.shown);
    // The default environment is for the command line; an answers file stays complete on its own.
    if (input.environment_id === undefined && "environment_id" in inputs && file === undefined) {
      input.environment_id = defaultEnv();
      this.cliFields.set("environment_id", inputs.environment_id!.shown);
    }

    await this.promptMissing(input, given);

    // References: which fields are to be resolved against the store.
    const refs: PayloadRef[] = [];
    let deploymentRef: string | undefined;
    let needDeployment = false;
    for (const [field, i] of Object.entries(inputs)) {
      if (i.ref === undefined) continue;
      const value = input[field];
      if (i.ref === "deployment") {
        if (value === undefined && file === undefined && i.optional !== true) {
          needDeployment = true;
          input[field] = PLACEHOLDER_ULID;
        } else if (field in given) {
          deploymentRef = String(value);
          if (!isCanonicalUlid(value)) input[field] = PLACEHOLDER_ULID;
        }
      } else if (field in given && !isCanonicalUlid(value)) {
        refs.push({ label: i.shown, value: String(value), set: (id) => (input[field] = id) });
        input[field] = placeholder(refs.length);
      }
    }
    for (const ref of this.payloadRefs(input)) {
      if (isCanonicalUlid(ref.value)) continue;
      refs.push(ref);
      ref.set(placeholder(refs.length));
    }

    // The library checks these limits too; checked here first so the message names the flag.
    const { oversizedText } = await import("@greentic/deploy-spec");
    const big = oversizedText(input);
    if (big !== undefined) {
      const head = big.path.split(".")[0]!;
      const where = file === undefined || givenOnCli(given, head) ? shown(head) : `${source}: ${big.path}`;
      throw new CliInputError(
        "validation",
        `${where}: ${big.length} characters; at most ${big.max} are allowed`,
        'shorten the value (see "Limits" in docs/concepts.md)',
        where,
      );
    }
    // Checked here, before the store is opened, so that bad input never touches it; the raw
    // input (not zod's output) is what operations receives and checks again.
    await this.validate(input, file);
    if (refs.length > 0 || needDeployment || input.deployment_id === PLACEHOLDER_ULID) {
      const { ops, ctx } = await this.ops();
      const resolved = await ops.resolveReferences(ctx, String(input.environment_id), {
        deployment: deploymentRef,
        deploymentLabel: inputs.deployment_id?.shown ?? "--deployment",
        revisions: refs.map((r) => r.value),
        revisionLabels: refs.map((r) => r.label),
        needDeployment,
      });
      refs.forEach((r, i) => r.set(resolved.revision_ids[i]!));
      if ("deployment_id" in inputs) {
        if (resolved.deployment_id !== undefined) input.deployment_id = resolved.deployment_id;
        else if (input.deployment_id === PLACEHOLDER_ULID) delete input.deployment_id;
      }
      await this.validate(input, file);
    }
    return input as P;
  }

  /**
   * On a terminal (stdin and stderr), asks for each required field that is missing and has a
   * flag or argument, unless --no-interactive or --json. Answers count as typed on the command line.
   */
  private async promptMissing(input: Record<string, unknown>, given: Record<string, unknown>): Promise<void> {
    const f = this.flags as { interactive?: boolean };
    if (f.interactive === false || this.jsonEnabled() || !process.stdin.isTTY || !process.stderr.isTTY) return;
    const inputs = FIELD_INPUTS[this.answersKey] ?? {};
    const { ANSWERS_SCHEMAS, parseDocument } = await import("@greentic/deploy-spec");
    const schema = (ANSWERS_SCHEMAS as Record<string, Parameters<typeof parseDocument>[0]>)[this.answersKey];
    if (!schema) return;
    const parsed = parseDocument(schema, input, { source: this.source });
    if (parsed.ok) return;
    const missing = parsed.issues
      .filter((i) => i.code === "missing-field" && !i.path.includes(".") && inputs[i.path]?.computed !== true)
      .map((i) => i.path)
      .filter((field) => inputs[field] !== undefined);
    if (missing.length === 0) return;
    const { answersJsonSchema } = await import("./schema.js");
    const props =
      (
        (await answersJsonSchema(this.answersKey)) as {
          properties?: Record<string, { description?: string; type?: string }>;
        }
      ).properties ?? {};
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      for (const field of missing) {
        const prop = props[field];
        const answer = (
          await rl.question(`${inputs[field]!.shown}${prop?.description ? ` (${prop.description})` : ""}: `)
        ).trim();
        if (answer === "") continue;
        const value = prop?.type === "integer" || prop?.type === "number" ? Number(answer) : answer;
        input[field] = value;
        given[field] = value;
        this.cliFields.set(field, inputs[field]!.shown);
      }
    } finally {
      rl.close();
    }
  }

  /** Validates a payload against the verb's answers schema; the error names flags or file fields. */
  private async validate(input: Record<string, unknown>, file: string | undefined): Promise<void> {
    const inputs = FIELD_INPUTS[this.answersKey] ?? {};
    const { ANSWERS_SCHEMAS, parseDocument } = await import("@greentic/deploy-spec");
    const schema = (ANSWERS_SCHEMAS as Record<string, Parameters<typeof parseDocument>[0]>)[this.answersKey];
    if (!schema) throw new Error(`no answers schema for "${this.answersKey}"`);
    const parsed = parseDocument(schema, input, { source: this.source });
    if (parsed.ok) return;
    const first = parsed.issues[0];
    const cmd = this.commandName();
    const shownFirst = first === undefined ? undefined : this.cliFields.get(first.path.split(".")[0]!);
    let hint: string;
    if (first?.code === "missing-field")
      hint =
        shownFirst !== undefined
          ? `pass ${shownFirst}${file === undefined ? ", or give the payload with --answers FILE" : ""} (\`op ${cmd} --help\`)`
          : `add ${first.path} to ${this.source}${inputs[first.path] === undefined ? "" : `, or pass ${inputs[first.path]!.shown}`} (\`op ${cmd} --schema\` prints the schema)`;
    else if (first?.code === "unknown-field")
      hint = `remove the field from ${this.source} (\`op ${cmd} --schema\` lists the fields)`;
    else if (first?.code === "basis-points-sum") hint = "make the weights add up to exactly 100% (10000bps)";
    else if (first?.code === "duplicate-entry") hint = "name each revision once";
    else if (shownFirst !== undefined) hint = `correct the value of ${shownFirst} (\`op ${cmd} --help\`)`;
    else hint = `fix the field in ${this.source} (\`op ${cmd} --schema\` prints the schema)`;
    const err = new CliInputError("validation", parsed.summary, hint, first?.path || this.source);
    Object.assign(err, { issues: parsed.issues });
    throw err;
  }

  /** Name of the payload's origin (answers file or `flags`), for the library's messages. */
  protected source = "flags";

  /** Options for the operations call: source name and precondition. */
  protected mutationOptions(): { source: string; precondition?: Precondition } {
    const pre = this.precondition();
    return pre ? { source: this.source, precondition: pre } : { source: this.source };
  }

  /** The precondition given with `--if-match` / `--expected-generation`, if any. */
  protected precondition(): Precondition | undefined {
    const f = this.flags as { "if-match"?: string; "expected-generation"?: number };
    const out: Precondition = {};
    if (f["if-match"] !== undefined) out.if_match = f["if-match"];
    if (f["expected-generation"] !== undefined) out.expected_generation = f["expected-generation"];
    return Object.keys(out).length === 0 ? undefined : out;
  }
}

/** The shapes of a revision reference (checked properly by the resolver). */
function looksLikeRevisionRef(value: string): boolean {
  return /^(@\d+|latest|previous|stable|[0-7][0-9A-HJKMNP-TV-Z]{5,25})$/i.test(value);
}

/** A full revision or deployment id as stored (upper case); anything else is a reference to resolve. */
function isCanonicalUlid(value: unknown): boolean {
  return typeof value === "string" && /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(value);
}

function givenOnCli(given: Record<string, unknown>, field: string): boolean {
  return Object.hasOwn(given, field);
}
