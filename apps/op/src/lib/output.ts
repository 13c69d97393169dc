/**
 * How a successful `op` invocation is printed. No imports.
 */

/** The `--json` success envelope line: `{"op","noun","result"}`. */
export function successEnvelope(verb: string, noun: string, result: unknown): string {
  return `${JSON.stringify({ op: verb, noun, result: result ?? null })}\n`;
}

/** Human output as printed: a trailing newline added; nothing for no text. */
export function humanOutput(text: string | undefined): string {
  if (!text) return "";
  return text.endsWith("\n") ? text : `${text}\n`;
}
