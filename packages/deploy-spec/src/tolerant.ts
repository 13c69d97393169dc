import type { z } from "zod";

/** Stored-document schemas, whose reads drop explicit `null` on optional fields (see below). */
const TOLERANT = new WeakSet<z.ZodType>();

/** Marks stored-document schemas as read tolerantly by `parseDocument`. */
export function registerStoredSchemas(...schemas: z.ZodType[]): void {
  for (const s of schemas) TOLERANT.add(s);
}

/** True when `parseDocument` reads `schema` tolerantly. */
export function isStoredSchema(schema: z.ZodType): boolean {
  return TOLERANT.has(schema);
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

function isOptional(schema: z.ZodType): boolean {
  return (schema as unknown as { _zod: { optin?: string } })._zod.optin === "optional";
}

/**
 * A copy of `value` without the keys that hold `null` where the schema has an optional or
 * defaulted field: serde reads `null` on an `Option` field as `None`, so a document the
 * reference wrote with an explicit null must load here too. Unknown keys and free-form JSON
 * values (records, `unknown`) are left as they are.
 */
export function dropNullOptionals(schema: z.ZodType, value: unknown): unknown {
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "default":
    case "prefault":
    case "nullable":
    case "readonly":
    case "catch":
      return def.innerType === undefined ? value : dropNullOptionals(def.innerType, value);
    case "pipe":
      return def.in === undefined ? value : dropNullOptionals(def.in, value);
    case "array":
      return Array.isArray(value) && def.element !== undefined
        ? value.map((item) => dropNullOptionals(def.element!, item))
        : value;
    case "union":
      // Discriminated unions of objects: each option sees only its own keys.
      if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
      for (const option of def.options ?? []) {
        const next = dropNullOptionals(option, value);
        if (next !== value) return next;
      }
      return value;
    case "object": {
      if (value === null || typeof value !== "object" || Array.isArray(value) || def.shape === undefined) return value;
      const shape = def.shape;
      let changed = false;
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
        if (field === undefined) {
          out[key] = item;
          continue;
        }
        if (item === null && isOptional(field)) {
          changed = true;
          continue;
        }
        const next = dropNullOptionals(field, item);
        if (next !== item) changed = true;
        out[key] = next;
      }
      return changed ? out : value;
    }
    default:
      return value;
  }
}
