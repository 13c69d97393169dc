// Writes packages/deploy-spec/schemas/<name>.schema.json from the zod schemas, removing stale
// files. Run after a build (`pnpm --filter @greentic/deploy-spec schemas`); the drift test
// in src/json-schema.test.ts fails until the committed files match.
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { JSON_SCHEMA_NAMES, jsonSchemaFor } from "@greentic/deploy-spec";

const dir = fileURLToPath(new URL("../schemas/", import.meta.url));
await mkdir(dir, { recursive: true });
for (const file of await readdir(dir)) {
  if (file.endsWith(".schema.json") && !JSON_SCHEMA_NAMES.includes(file.slice(0, -".schema.json".length)))
    await rm(`${dir}${file}`);
}
for (const name of JSON_SCHEMA_NAMES) {
  await writeFile(`${dir}${name}.schema.json`, `${JSON.stringify(jsonSchemaFor(name), null, 2)}\n`);
}
console.log(`wrote ${JSON_SCHEMA_NAMES.length} schemas to ${dir}`);
