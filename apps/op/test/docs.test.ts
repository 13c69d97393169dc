import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { renderReference } from "../scripts/gen-cli-reference.ts";
import { OP_DIR, REPO, ensureBuilt } from "./helpers.js";

beforeAll(() => ensureBuilt());

it("docs/cli-reference.md matches the commands (run `pnpm --filter @greentic/op docs` after changing a command)", () => {
  const manifest = JSON.parse(readFileSync(join(OP_DIR, "oclif.manifest.json"), "utf8"));
  expect(readFileSync(join(REPO, "docs", "cli-reference.md"), "utf8")).toBe(renderReference(manifest));
});
