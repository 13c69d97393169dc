/** Small, dependency-free renderers for human output. */

export interface Column<T> {
  header: string;
  get: (row: T) => unknown;
  /** Right-align (numbers). */
  right?: boolean;
}

function cell(value: unknown): string {
  if (value === undefined || value === null || value === "") return "-";
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.map(String).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** An aligned table with an upper-case header row; `empty` is printed when there are no rows. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], empty = "(none)"): string {
  if (rows.length === 0) return `${empty}\n`;
  const cells = rows.map((r) => columns.map((c) => cell(c.get(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join("\n")}\n`;
}

/** `key: value` lines with the keys aligned; undefined values are skipped. */
export function fields(pairs: readonly (readonly [string, unknown])[]): string {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return `${shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`).join("\n")}\n`;
}

/** Basis points as a percentage string: 9000 -> "90%", 125 -> "1.25%". */
export function percent(bps: number): string {
  const p = bps / 100;
  return `${Number.isInteger(p) ? p : p.toFixed(2)}%`;
}

/** A column of a shapeable list: `key` is what --columns, --sort and --filter name. */
export interface ListColumn<T> extends Column<T> {
  key: string;
  /** Shown only when asked for with --columns. */
  extra?: boolean;
}

/** How the user shaped a list (the list flags of `listFlags`). */
export interface ListShape {
  columns?: string | undefined;
  sort?: string | undefined;
  filter?: string[] | undefined;
  "no-header"?: boolean | undefined;
  output?: string | undefined;
}

/** Control characters (C0, DEL, C1) shown escaped so that stored strings cannot drive the terminal. */
export function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    return code === 0x1b ? "\\e" : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

function plain(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map(String).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Thrown for a column name that is not one of the list's (exit 2). */
export class UnknownColumnError extends Error {
  constructor(
    readonly flag: string,
    readonly column: string,
    readonly known: readonly string[],
  ) {
    super(`${flag}: no column "${column}"; the columns are ${known.join(", ")}`);
  }
}

/**
 * Renders a list as shaped by the user: columns picked and ordered (`--columns`), rows kept
 * (`--filter COLUMN=TEXT`, case-insensitive substring, repeatable), sorted (`--sort COLUMN`,
 * `-COLUMN` descending), as a table (with or without header), CSV, JSON or YAML.
 */
export async function renderList<T>(
  rows: readonly T[],
  columns: readonly ListColumn<T>[],
  shape: ListShape,
  empty: string,
): Promise<string> {
  const keys = columns.map((c) => c.key);
  const find = (flag: string, key: string) => {
    const c = columns.find((x) => x.key === key.trim().toLowerCase());
    if (c === undefined) throw new UnknownColumnError(flag, key.trim(), keys);
    return c;
  };
  const shown =
    shape.columns === undefined
      ? columns.filter((c) => !c.extra)
      : shape.columns
          .split(",")
          .filter((k) => k.trim() !== "")
          .map((k) => find("--columns", k));
  let kept = [...rows];
  for (const f of shape.filter ?? []) {
    const eq = f.indexOf("=");
    if (eq <= 0)
      throw new UnknownColumnError(
        "--filter",
        f,
        keys.map((k) => `${k}=TEXT`),
      );
    const c = find("--filter", f.slice(0, eq));
    const want = f.slice(eq + 1).toLowerCase();
    kept = kept.filter((r) => plain(c.get(r)).toLowerCase().includes(want));
  }
  if (shape.sort !== undefined) {
    const desc = shape.sort.startsWith("-");
    const c = find("--sort", desc ? shape.sort.slice(1) : shape.sort);
    kept.sort((a, b) => {
      const x = c.get(a);
      const y = c.get(b);
      const order =
        typeof x === "number" && typeof y === "number"
          ? x - y
          : plain(x).localeCompare(plain(y), "en", { numeric: true });
      return desc ? -order : order;
    });
  }
  const output = shape.output ?? "table";
  if (output === "json" || output === "yaml") {
    const objects = kept.map((r) => Object.fromEntries(shown.map((c) => [c.key, c.get(r) ?? null])));
    if (output === "json") return `${JSON.stringify(objects, null, 2)}\n`;
    const { stringify } = await import("yaml");
    return objects.length === 0 ? "[]\n" : stringify(objects);
  }
  if (output === "csv") {
    const lines = kept.map((r) => shown.map((c) => csvField(plain(c.get(r)))).join(","));
    if (!shape["no-header"]) lines.unshift(shown.map((c) => c.key).join(","));
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
  }
  const escaped = shown.map((c) => ({
    ...c,
    get: (r: T) => {
      const v = c.get(r);
      return typeof v === "string" ? escapeControls(v) : v;
    },
  }));
  if (kept.length === 0) return rows.length === 0 ? `${empty}\n` : "(no rows match)\n";
  const text = table(kept, escaped);
  return shape["no-header"] ? text.slice(text.indexOf("\n") + 1) : text;
}
