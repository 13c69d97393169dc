import { Flags, type Command } from "@oclif/core";
import { loadAnswers } from "./answers.js";
import { OpCommand } from "./base.js";
import { CliInputError } from "./errors.js";
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
    description: "Apply only if the environment's ETag is still this value (from `op env show`).",
    helpValue: "ETAG",
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

/**
 * A mutating verb: its payload comes from `--answers` (canonical) and/or convenience flags,
 * and is validated against the verb's answers schema before anything is looked up.
 */
export abstract class MutatingCommand<T extends typeof Command = typeof Command> extends OpCommand<T> {
  /** Key into deploy-spec's ANSWERS_SCHEMAS, e.g. `"traffic set"`. */
  static answersKey: string;

  protected get answersKey(): string {
    return (this.constructor as typeof MutatingCommand).answersKey;
  }

  /** `--schema`: prints the schema and returns true (the caller stops). */
  protected async handledSchema(): Promise<boolean> {
    if (!(this.flags as { schema?: boolean }).schema) return false;
    await printAnswersSchema(this.answersKey);
    return true;
  }

  /**
   * Builds and validates the payload: the answers file (if any), then the fields given by
   * convenience flags. A flag may fill a field the file lacks; a flag that contradicts the
   * file is a usage error. Validation errors name the file and the field path.
   */
  protected async payload<P = any>(fromFlags: Record<string, unknown> = {}): Promise<P> {
    const file = (this.flags as { answers?: string }).answers;
    const flagValues = Object.fromEntries(Object.entries(fromFlags).filter(([, v]) => v !== undefined));
    let source = "flags";
    let input: Record<string, unknown> = {};
    if (file !== undefined) {
      const loaded = await loadAnswers(file);
      source = loaded.source;
      input = { ...(loaded.value as Record<string, unknown>) };
      for (const [field, value] of Object.entries(flagValues)) {
        if (field in input && JSON.stringify(input[field]) !== JSON.stringify(value)) {
          throw new CliInputError(
            "invalid-argument",
            `${source}: ${field}: the file says ${JSON.stringify(input[field])} but a flag says ${JSON.stringify(value)}`,
            "give the value in one place only",
            field,
          );
        }
        input[field] = value;
      }
    } else {
      input = flagValues;
    }
    // Checked here, before the store is opened, so that bad input never touches it; the raw
    // input (not zod's output) is what operations receives and checks again.
    const { ANSWERS_SCHEMAS, parseDocument } = await import("@greentic/deploy-spec");
    const schema = (ANSWERS_SCHEMAS as Record<string, Parameters<typeof parseDocument>[0]>)[this.answersKey];
    if (!schema) throw new Error(`no answers schema for "${this.answersKey}"`);
    const parsed = parseDocument(schema, input, { source });
    if (!parsed.ok) {
      const hint =
        file === undefined
          ? `pass the missing fields as flags or with --answers FILE (\`op ${this.id} --schema\` prints the schema)`
          : `fix the field in ${source} (\`op ${this.id} --schema\` prints the schema)`;
      const first = parsed.issues[0];
      const err = new CliInputError("validation", parsed.summary, hint, first?.path || source);
      Object.assign(err, { issues: parsed.issues });
      throw err;
    }
    this.source = source;
    return input as P;
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
