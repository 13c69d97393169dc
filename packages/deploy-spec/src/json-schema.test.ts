import { readFile, readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { JSON_SCHEMA_NAMES, jsonSchemaFor } from "./json-schema.js";

const dir = fileURLToPath(new URL("../schemas/", import.meta.url));

describe("committed JSON Schemas", () => {
  it("exist for every name and nothing else", async () => {
    const stems = (await readdir(dir))
      .filter((f) => f.endsWith(".schema.json"))
      .map((f) => f.slice(0, -".schema.json".length));
    expect(stems.sort()).toEqual(JSON_SCHEMA_NAMES);
    expect(JSON_SCHEMA_NAMES).toHaveLength(39);
  });
  it.each(JSON_SCHEMA_NAMES.map((n) => [n]))(
    "%s matches the zod schema (run `pnpm --filter @greentic/deploy-spec schemas` after a change)",
    async (name) => {
      const committed = await readFile(`${dir}${name}.schema.json`, "utf8");
      expect(committed).toBe(`${JSON.stringify(jsonSchemaFor(name), null, 2)}\n`);
    },
  );
  it("describes every field of every answers schema, nested ones too", () => {
    const undescribed: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) return node.forEach((n) => walk(n, path));
      if (node === null || typeof node !== "object") return;
      const n = node as Record<string, unknown>;
      for (const [key, prop] of Object.entries((n.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof prop.description !== "string" || prop.description === "") undescribed.push(`${path}.${key}`);
        walk(prop, `${path}.${key}`);
      }
      for (const key of ["items", "anyOf", "oneOf", "allOf"]) if (key in n) walk(n[key], path);
    };
    const answers = JSON_SCHEMA_NAMES.filter((n) => n.startsWith("answers-"));
    for (const name of answers) walk(jsonSchemaFor(name), name);
    expect(answers).toHaveLength(24);
    expect(undescribed).toEqual([]);
  });
  it("describes answers strictly and with defaults optional", () => {
    const s = jsonSchemaFor("traffic set")!;
    expect(s.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(s.$id).toBe("https://schemas.greentic.ai/deploy-spec/answers-traffic-set.schema.json");
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(["environment_id", "deployment_id", "entries", "idempotency_key"]);
    expect(jsonSchemaFor("no-such-thing")).toBeUndefined();
    const env = jsonSchemaFor("environment")!;
    expect(env.required).toEqual(["schema", "environment_id", "name", "host_config", "packs"]);
    expect((env.properties as Record<string, { const?: string }>).schema!.const).toBe("greentic.environment.v1");
  });
});
