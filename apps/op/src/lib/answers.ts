import { open } from "node:fs/promises";
import { CliInputError } from "./errors.js";

/** What an answers file was read as, and the name errors use for it. */
export interface LoadedAnswers {
  /** Name used in error messages: the path as given, or `<stdin>`. */
  source: string;
  format: "json" | "yaml";
  value: unknown;
}

/** YAML aliases allowed in one answers file (a "billion laughs" document needs far more). */
const YAML_MAX_ALIASES = 100;

class TooLarge extends Error {}

/** Reads at most `max` + 1 bytes: more is refused without reading it all. */
async function readCapped(file: string, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  const add = (chunk: Buffer) => {
    total += chunk.length;
    if (total > max) throw new TooLarge();
    chunks.push(chunk);
  };
  if (file === "-") {
    for await (const chunk of process.stdin) add(chunk as Buffer);
  } else {
    const handle = await open(file, "r");
    try {
      if (!(await handle.stat()).isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
      for await (const chunk of handle.createReadStream({ highWaterMark: 64 * 1024 })) add(chunk as Buffer);
    } finally {
      await handle.close();
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The first key that appears twice in one object of a JSON text (already known to parse), with
 * its offset; JSON.parse would silently keep the last one.
 */
function duplicateJsonKey(text: string): { key: string; offset: number } | undefined {
  const stack: { keys: Set<string> | undefined; wantKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '"') {
      const start = i;
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (top?.keys !== undefined && top.wantKey) {
        const key = JSON.parse(text.slice(start, j + 1)) as string;
        if (top.keys.has(key)) return { key, offset: start };
        top.keys.add(key);
        top.wantKey = false;
      }
      i = j;
    } else if (c === "{") stack.push({ keys: new Set(), wantKey: true });
    else if (c === "[") stack.push({ keys: undefined, wantKey: false });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === "," && top?.keys !== undefined) top.wantKey = true;
  }
  return undefined;
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
  // The limit is the library's (deploy-spec), which every operations verb enforces as well.
  const { ANSWERS_MAX_BYTES } = await import("@greentic/deploy-spec");
  let text: string;
  try {
    text = await readCapped(file, ANSWERS_MAX_BYTES);
  } catch (err) {
    if (err instanceof TooLarge) {
      throw new CliInputError(
        "answers-parse",
        `${source}: answers file is larger than ${ANSWERS_MAX_BYTES} bytes (1 MiB)`,
        "answers are small documents: check that this is the right file",
        source,
      );
    }
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
      const dup = duplicateJsonKey(text);
      if (dup !== undefined) {
        throw new CliInputError(
          "answers-parse",
          `${source}: duplicate key ${JSON.stringify(dup.key)} at ${lineCol(text, dup.offset)}`,
          "give each field once",
          source,
        );
      }
    } catch (err) {
      if (err instanceof CliInputError) throw err;
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
    try {
      value = doc.toJS({ maxAliasCount: YAML_MAX_ALIASES });
    } catch (err) {
      // The yaml library refuses alias expansion past the cap (a "billion laughs" document).
      throw new CliInputError(
        "answers-parse",
        `${source}: malformed YAML: ${(err as Error).message.split("\n")[0]} (at most ${YAML_MAX_ALIASES} aliases are expanded)`,
        "write the values out instead of using YAML aliases",
        source,
      );
    }
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
