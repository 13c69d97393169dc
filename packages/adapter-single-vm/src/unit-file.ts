import { GreenticError } from "@greentic/deploy-spec";

/**
 * A small typed model of systemd unit files (also Quadlet `.container` files, same syntax).
 * Entries keep their order and may repeat (`Volume=` twice), which `ini`-style parsers lose.
 */
export interface UnitSection {
  name: string;
  entries: ReadonlyArray<readonly [key: string, value: string]>;
}

export interface UnitFile {
  /** Comment lines written at the top (without the leading `# `). */
  header?: readonly string[];
  sections: readonly UnitSection[];
}

/** Renders a unit file. Refuses values that would break the syntax (newlines, NUL). */
export function renderUnitFile(unit: UnitFile): string {
  const lines: string[] = (unit.header ?? []).map((h) => `# ${h}`.trimEnd());
  for (const section of unit.sections) {
    if (lines.length > 0) lines.push("");
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(section.name))
      throw new GreenticError("internal", `bad unit section name ${JSON.stringify(section.name)}`);
    lines.push(`[${section.name}]`);
    for (const [key, value] of section.entries) {
      if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key))
        throw new GreenticError("internal", `bad unit key ${JSON.stringify(key)}`);
      if (/[\n\r\0]/.test(value)) {
        throw new GreenticError(
          "invalid-argument",
          `unit value for ${key} contains a newline or NUL: ${JSON.stringify(value)}`,
          {
            hint: "spec values that end up in systemd units must be single-line",
          },
        );
      }
      lines.push(`${key}=${value}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Escapes a string for use where systemd expands specifiers (`%`), e.g. paths in `What=`,
 * `EnvironmentFile=`, `ReadWritePaths=`.
 */
export function escapeSpecifiers(value: string): string {
  return value.replace(/%/g, "%%");
}

/**
 * One command line for `ExecStart=` and friends: every word quoted when needed, `%` escaped so
 * systemd does not expand specifiers, `$` doubled so it does not expand variables.
 */
export function execCommandLine(argv: readonly string[]): string {
  if (argv.length === 0 || !argv[0]!.startsWith("/")) {
    throw new GreenticError("internal", `exec command must start with an absolute path: ${JSON.stringify(argv)}`);
  }
  return argv.map(quoteWord).join(" ");
}

function quoteWord(word: string): string {
  const escaped = word.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (escaped !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The unit-name form of an absolute path, as `systemd-escape --path` prints it: slashes become
 * `-`, and every byte outside `[A-Za-z0-9:_.]` (and a leading `.`) becomes `\xNN`.
 */
export function systemdEscapePath(path: string): string {
  const trimmed = path
    .split("/")
    .filter((s) => s !== "")
    .join("/");
  if (trimmed === "") return "-";
  let out = "";
  const bytes = Buffer.from(trimmed, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const c = String.fromCharCode(b);
    if (c === "/") out += "-";
    else if ((i === 0 && c === ".") || !/[A-Za-z0-9:_.]/.test(c) || b >= 0x80)
      out += `\\x${b.toString(16).padStart(2, "0")}`;
    else out += c;
  }
  return out;
}

/** Quotes one value of a space-separated list directive (`ReadWritePaths=`). */
export function pathListItem(path: string): string {
  const escaped = escapeSpecifiers(path);
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : escaped;
}

/** Escapes a value for an environment file read by `EnvironmentFile=` (and `--env-file`). */
export function envFileLine(key: string, value: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new GreenticError("internal", `bad environment variable name ${key}`);
  if (/[\n\r\0]/.test(value))
    throw new GreenticError("invalid-argument", `environment value for ${key} must be single-line`);
  // Docker's --env-file takes the rest of the line verbatim, so keep values unquoted; the values we
  // write (paths, binds) never need quoting.
  if (/[\s"'\\$`]/.test(value))
    throw new GreenticError(
      "invalid-argument",
      `environment value for ${key} must not contain spaces, quotes, $ or backslashes: ${JSON.stringify(value)}`,
    );
  return `${key}=${value}`;
}
