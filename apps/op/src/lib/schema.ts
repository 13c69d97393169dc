import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** `"traffic set"` -> `"traffic-set"`: the file stem of the committed schema. */
export function schemaStem(answersKey: string): string {
  return answersKey.replace(/\s+/g, "-");
}

/**
 * The JSON Schema of a verb's answers payload, as committed by `@greentic/deploy-spec` under
 * `schemas/answers-<noun>-<verb>.schema.json`. Reading the committed file (rather than
 * generating from zod) keeps `--schema` fast and identical to what CI checks.
 */
export async function answersJsonSchema(answersKey: string): Promise<unknown> {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve("@greentic/deploy-spec/package.json"));
  const file = join(pkgDir, "schemas", `answers-${schemaStem(answersKey)}.schema.json`);
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  // Not committed yet (a development checkout): generate it the way deploy-spec does.
  const { ANSWERS_SCHEMAS } = await import("@greentic/deploy-spec");
  // zod is deploy-spec's dependency, not ours: resolve it from there.
  const zodPath = createRequire(join(pkgDir, "package.json")).resolve("zod");
  const { z } = (await import(pathToFileURL(zodPath).href)) as {
    z: { toJSONSchema: (schema: unknown, options: unknown) => unknown };
  };
  const schema = (ANSWERS_SCHEMAS as Record<string, unknown>)[answersKey];
  if (!schema) throw new Error(`no answers schema for "${answersKey}"`);
  return z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" });
}

export async function printAnswersSchema(answersKey: string): Promise<void> {
  process.stdout.write(`${JSON.stringify(await answersJsonSchema(answersKey), null, 2)}\n`);
}
