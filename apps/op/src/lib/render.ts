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
