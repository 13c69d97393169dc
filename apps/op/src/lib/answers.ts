import { readFile } from "node:fs/promises";
import { CliInputError } from "./errors.js";

/** What an answers file was read as, and the name errors use for it. */
export interface LoadedAnswers {
  /** Name used in error messages: the path as given, or `<stdin>`. */
  source: string;
  format: "json" | "yaml";
  value: unknown;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Line and column (1-based) of a character offset, for JSON parse errors. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const col = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${col}`;
}

/**
 * Reads an answers file (`-` = stdin). The format is detected from the content, not the
 * extension: a document whose first non-blank character is `{` or `[` is JSON (and must be
 * valid JSON), anything else is YAML. The value must be a mapping.
 */
export async function loadAnswers(file: string): Promise<LoadedAnswers> {
  const source = file === "-" ? "<stdin>" : file;
  let text: string;
  try {
    text = file === "-" ? await readStdin() : await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : (err as Error).message;
    throw new CliInputError(
      "answers-parse",
      `${source}: cannot read answers file: ${why}`,
      "pass an existing JSON or YAML file with --answers (or - for stdin)",
      source,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") {
    throw new CliInputError(
      "answers-parse",
      `${source}: answers file is empty`,
      "write the payload as a JSON object or YAML mapping; --schema prints its schema",
      source,
    );
  }
  const first = text.trimStart()[0];
  let value: unknown;
  let format: LoadedAnswers["format"];
  if (first === "{" || first === "[") {
    format = "json";
    try {
      value = JSON.parse(text);
    } catch (err) {
      const msg = (err as Error).message;
      const pos = /position (\d+)/.exec(msg);
      const where = pos ? ` at ${lineCol(text, Number(pos[1]))}` : "";
      throw new CliInputError(
        "answers-parse",
        `${source}: malformed JSON${where}: ${msg.replace(/ in JSON at position \d+.*$/, "")}`,
        "fix the JSON syntax (or write the file as YAML)",
        source,
      );
    }
  } else {
    format = "yaml";
    const { parseDocument } = await import("yaml");
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : "";
      throw new CliInputError(
        "answers-parse",
        `${source}: malformed YAML${where}: ${err.message.split("\n")[0]}`,
        "fix the YAML syntax (or write the file as JSON)",
        source,
      );
    }
    value = doc.toJS({ maxAliasCount: 100 });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const got = value === null ? "null" : Array.isArray(value) ? "a list" : `a ${typeof value}`;
    throw new CliInputError(
      "answers-parse",
      `${source}: the answers must be a mapping of fields, got ${got}`,
      "--schema prints the expected fields",
      source,
    );
  }
  return { source, format, value };
}
