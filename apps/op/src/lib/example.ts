/**
 * `op <verb> --example`: a complete answers file written from the verb's JSON Schema, each
 * field preceded by its description. Required fields are set to their example; optional ones
 * are shown commented out, so the file as printed is valid and minimal.
 */

interface Prop {
  description?: string;
  examples?: unknown[];
  default?: unknown;
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Prop>;
  items?: Prop;
  anyOf?: Prop[];
}

/**
 * `#   path: description` for every field nested inside `prop` (objects, list items, the
 * alternatives of a union), depth first, so that the file explains the fields of its values too.
 */
function nestedNotes(prop: Prop, path: string, out: string[] = []): string[] {
  const alternatives = [prop, ...(prop.items === undefined ? [] : [prop.items]), ...(prop.anyOf ?? [])];
  for (const alt of alternatives) {
    for (const [key, sub] of Object.entries(alt.properties ?? {})) {
      const at = `${path}${alt === prop.items ? "[]" : ""}.${key}`;
      if (sub.description !== undefined) out.push(`#   ${at}: ${sub.description}`);
      nestedNotes(sub, at, out);
    }
    if (alt !== prop && alt.items !== undefined) nestedNotes(alt, path, out);
  }
  return out;
}

function placeholder(p: Prop): unknown {
  if (p.examples !== undefined && p.examples.length > 0) return p.examples[0];
  if (p.default !== undefined) return p.default;
  if (p.enum !== undefined && p.enum.length > 0) return p.enum[0];
  const type = Array.isArray(p.type) ? p.type[0] : p.type;
  return type === "boolean" ? false : type === "integer" || type === "number" ? 0 : type === "array" ? [] : "";
}

/** Optional in the schema but needed by the verb (the library checks them): shown set. */
const NEEDED: Record<string, readonly string[]> = {
  "revisions stage": ["bundle_path"],
};

/** The example file for a schema (`{properties, required}`) of the verb `command`. */
export async function exampleAnswers(command: string, schema: unknown): Promise<string> {
  const { stringify } = await import("yaml");
  const s = schema as { properties?: Record<string, Prop>; required?: string[] };
  const required = new Set([...(s.required ?? []), ...(NEEDED[command] ?? [])]);
  const lines = [
    `# Answers for \`op ${command}\`: run it with \`op ${command} --answers FILE\`.`,
    "# Required fields are set to examples; optional ones are commented out (remove the # to use them).",
  ];
  for (const [field, prop] of Object.entries(s.properties ?? {})) {
    lines.push("");
    const must = required.has(field);
    const note = must
      ? "required"
      : prop.default !== undefined
        ? `optional, default ${JSON.stringify(prop.default)}`
        : "optional";
    lines.push(`# ${prop.description ?? field} (${note})`);
    lines.push(...nestedNotes(prop, field));
    const text = stringify({ [field]: placeholder(prop) }, { lineWidth: 0 }).trimEnd();
    for (const line of text.split("\n")) lines.push(must ? line : `# ${line}`);
  }
  return `${lines.join("\n")}\n`;
}
