import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { GreenticError } from "@greentic/deploy-spec/errors";

/** `"traffic set"` -> `"traffic-set"`: the file stem of the committed schema. */
export function schemaStem(answersKey: string): string {
  return answersKey.replace(/\s+/g, "-");
}

/**
 * The JSON Schema of a verb's answers payload: the file `@greentic/deploy-spec` commits and
 * serves through its `exports` map (`@greentic/deploy-spec/schemas/answers-<noun>-<verb>.schema.json`),
 * so `--schema` is fast, loads no zod, and prints exactly what CI checks for drift.
 */
export async function answersJsonSchema(answersKey: string): Promise<unknown> {
  const specifier = `@greentic/deploy-spec/schemas/answers-${schemaStem(answersKey)}.schema.json`;
  try {
    return JSON.parse(await readFile(createRequire(import.meta.url).resolve(specifier), "utf8"));
  } catch (error) {
    throw new GreenticError("internal", `the JSON Schema of "${answersKey}" answers is missing: ${specifier}`, {
      hint: "reinstall op (in a checkout, regenerate the schemas: pnpm --filter @greentic/deploy-spec schemas)",
      cause: error,
    });
  }
}

export async function printAnswersSchema(answersKey: string): Promise<void> {
  process.stdout.write(`${JSON.stringify(await answersJsonSchema(answersKey), null, 2)}\n`);
}
