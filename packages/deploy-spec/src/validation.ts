import type { z } from "zod";
import { GreenticError, type ErrorKind, type ValidationIssue } from "./errors.js";
import { dropNullOptionals, isStoredSchema } from "./tolerant.js";

const JITLESS = { jitless: true } as const;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[]; summary: string };

export interface ParseOptions {
  /** File name or other origin, put at the front of the summary and error message. */
  source?: string | undefined;
}

export interface AssertOptions extends ParseOptions {
  /** Error kind thrown on failure (default `validation`; the CLI uses `answers-parse` for input files). */
  kind?: ErrorKind | undefined;
  hint?: string | undefined;
}

/**
 * Parses `input` with a schema and returns the value or the issues as data (never a zod dump).
 * Stored documents (the schemas of `documents.ts`) are read tolerantly: unknown fields are kept
 * and an explicit `null` on an optional field reads as absent. Answers schemas stay strict.
 */
export function parseDocument<S extends z.ZodType>(
  schema: S,
  input: unknown,
  options: ParseOptions = {},
): ParseResult<z.output<S>> {
  // jitless: zod otherwise compiles a parser (`new Function`) for each object schema the first
  // time it parses, which pays off only over many parses; a document here is parsed a few times
  // per process, and that compile was most of the first parse of environment.json in an `op`
  // start. Same checks, issues and output either way.
  const parsed = schema.safeParse(isStoredSchema(schema) ? dropNullOptionals(schema, input) : input, JITLESS);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = toValidationIssues(parsed.error.issues, input);
  return { ok: false, issues, summary: summarizeIssues(issues, options.source) };
}

/** Like {@link parseDocument} but throws `GreenticError` (kind `validation` by default). */
export function assertDocument<S extends z.ZodType>(
  schema: S,
  input: unknown,
  options: AssertOptions = {},
): z.output<S> {
  const result = parseDocument(schema, input, options);
  if (result.ok) return result.value;
  throw issuesError(result.issues, options);
}

/** Builds the GreenticError for a non-empty list of issues. */
export function issuesError(issues: readonly ValidationIssue[], options: AssertOptions = {}): GreenticError {
  const first = issues[0];
  return new GreenticError(options.kind ?? "validation", summarizeIssues(issues, options.source), {
    hint: options.hint ?? "fix the field named in the message and retry",
    path: first && first.path !== "" ? first.path : options.source,
    issues,
  });
}

/** One line: `<source>: <path>: <message> (+N more issues)`. */
export function summarizeIssues(issues: readonly ValidationIssue[], source?: string): string {
  const first = issues[0];
  if (!first) return source ? `${source}: valid` : "valid";
  const where = first.path === "" ? "" : `${first.path}: `;
  const more = issues.length > 1 ? ` (+${issues.length - 1} more issue${issues.length > 2 ? "s" : ""})` : "";
  return `${source ? `${source}: ` : ""}${where}${first.message}${more}`;
}

/** Renders a value short enough for a one-line message. */
export function showValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return `${value}n`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/** Maps zod issues to `{path, code, message}` with stable kebab-case codes and the offending value. */
export function toValidationIssues(issues: readonly z.core.$ZodIssue[], input: unknown): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const issue of issues) {
    const path = joinPath(issue.path);
    const value = valueAt(input, issue.path);
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) {
          out.push({
            path: joinPath([...issue.path, key]),
            code: "unknown-field",
            message: `unknown field ${JSON.stringify(key)}`,
          });
        }
        break;
      case "invalid_type":
        if (value === undefined)
          out.push({ path, code: "missing-field", message: `required field is missing (expected ${issue.expected})` });
        else if (typeof value === "number" && Number.isNaN(value))
          out.push({ path, code: "not-a-number", message: `expected ${issue.expected}, got NaN` });
        else
          out.push({
            path,
            code: "invalid-type",
            message: `expected ${issue.expected}, got ${typeName(value)} ${showValue(value)}`,
          });
        break;
      case "invalid_value": {
        const isSchema = issue.path[issue.path.length - 1] === "schema";
        const allowed = issue.values.map((v) => showValue(v)).join(", ");
        out.push({
          path,
          code: isSchema ? "schema-mismatch" : "invalid-value",
          message: `${showValue(value)} is not ${issue.values.length === 1 ? allowed : `one of ${allowed}`}`,
        });
        break;
      }
      case "custom": {
        const code = typeof issue.params?.code === "string" ? issue.params.code : "invalid";
        out.push({ path, code, message: issue.message });
        break;
      }
      case "too_small":
      case "too_big":
        out.push({
          path,
          code: issue.code === "too_small" ? "too-small" : "too-big",
          message: `${issue.message} (got ${showValue(value)})`,
        });
        break;
      case "invalid_format":
        // Regex checks carry their own message (see the schemas); named formats get a generic one.
        out.push({
          path,
          code: "invalid-format",
          message: issue.format === "regex" ? issue.message : `${showValue(value)} is not a valid ${issue.format}`,
        });
        break;
      case "invalid_union": {
        out.push({ path, code: "invalid-union", message: `${showValue(value)} matches none of the allowed forms` });
        break;
      }
      default:
        out.push({
          path,
          code: issue.code.replaceAll("_", "-"),
          message: `${issue.message} (got ${showValue(value)})`,
        });
    }
  }
  return out;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
