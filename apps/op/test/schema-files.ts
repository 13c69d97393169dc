import { join } from "node:path";
import { REPO } from "./helpers.js";

/** The JSON Schema deploy-spec commits for a verb's answers (what `--schema` must print). */
export function answersJsonSchemaFile(answersKey: string): string {
  return join(REPO, "packages", "deploy-spec", "schemas", `answers-${answersKey.replace(/\s+/g, "-")}.schema.json`);
}
