import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const pkgDir = fileURLToPath(new URL("..", import.meta.url));
let work: string;
let project: string;

/** Newest mtime of the files under `dir` (recursive). */
async function newest(dir: string): Promise<number> {
  let max = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) max = Math.max(max, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return max;
}

/**
 * Builds only when dist is missing or older than src: `pnpm test` has just built it, and a
 * rebuild (tsup cleans dist) could pull the files from under other suites' running CLIs.
 */
async function ensureBuilt(): Promise<void> {
  const built = await stat(join(pkgDir, "dist/index.d.ts")).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built === 0 || built < (await newest(join(pkgDir, "src")))) {
    await run("pnpm", ["--filter", "@greentic/deploy-spec", "build"], { cwd: pkgDir });
  }
}

const consumerSource = `
import {
  ANSWERS_SCHEMAS,
  CAPABILITY_SLOTS,
  EnvironmentSchema,
  GreenticError,
  canTransition,
  engine,
  jsonSchemaFor,
  parseDocument,
  parsePackDescriptor,
  parseWeight,
  projectRuntimeConfig,
  type Environment,
  type LifecycleState,
} from "@greentic/deploy-spec";

let n = 0;
const ctx = { now: "2026-07-01T00:00:00Z", newId: () => "01J" + String(n++).padStart(23, "0") };
const init = engine.initLocalEnvironment(undefined, { environment_id: "local" }, ctx);
const env: Environment = init.environment;
const from: LifecycleState = "draining";
let kind = "";
try {
  parsePackDescriptor("Bad.pack@1.0.0");
} catch (e) {
  if (e instanceof GreenticError) kind = e.kind + ":" + String(e.details?.code);
}
const parsed = parseDocument(EnvironmentSchema, { ...env, extra: true });
console.log(JSON.stringify({
  outcome: init.result.outcome,
  packs: env.packs.length,
  slots: CAPABILITY_SLOTS.length,
  drainToInactive: canTransition(from, "inactive"),
  weight: parseWeight("50.5%"),
  descriptorError: kind,
  unknownField: parsed.ok ? (parsed.value as Record<string, unknown>).extra : parsed.issues[0]?.code,
  runtimeConfig: projectRuntimeConfig(env),
  answersVerbs: Object.keys(ANSWERS_SCHEMAS).length,
  schemaId: jsonSchemaFor("environment")?.["$id"],
}));
`;

const tsconfig = {
  compilerOptions: {
    target: "ES2023",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    types: ["node"],
    outDir: "out",
    skipLibCheck: false,
  },
  include: ["index.ts"],
};

describe("consumer of the packed package", () => {
  beforeAll(async () => {
    await ensureBuilt();
    work = await mkdtemp(join(tmpdir(), "deploy-spec-consumer-"));
    project = join(work, "project");
    // deploy-spec depends on the I/O kit, which is not on any registry yet: pack both, and
    // install them from their tarballs, as a consumer of a release would.
    await run("pnpm", ["pack", "--pack-destination", work], { cwd: pkgDir });
    await run("pnpm", ["pack", "--pack-destination", work], { cwd: join(pkgDir, "..", "io-kit") });
    const tarballs = (await readdir(work)).filter((f) => f.endsWith(".tgz")).map((f) => join(work, f));
    if (tarballs.length !== 2) throw new Error(`pnpm pack wrote ${tarballs.length} tarballs into ${work}, not 2`);
    await run("mkdir", ["-p", project]);
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    await writeFile(join(project, "tsconfig.json"), JSON.stringify(tsconfig));
    await writeFile(join(project, "index.ts"), consumerSource);
    await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs, "typescript@7", "@types/node@22"],
      { cwd: project, timeout: 280_000 },
    );
    return () => rm(work, { recursive: true, force: true });
  }, 300_000);

  it("type-checks, compiles and runs an import of the public API", async () => {
    await run(join(project, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: project });
    const { stdout } = await run(process.execPath, [join(project, "out/index.js")], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({
      outcome: "created",
      packs: 6,
      slots: 8,
      drainToInactive: true,
      weight: 5050,
      descriptorError: "validation:invalid-path-char",
      unknownField: true,
      runtimeConfig: null,
      answersVerbs: 24,
      schemaId: "https://schemas.greentic.ai/deploy-spec/environment.schema.json",
    });
  }, 120_000);

  it("ships types that catch misuse", async () => {
    await writeFile(
      join(project, "index.ts"),
      `import { canTransition } from "@greentic/deploy-spec";\ncanTransition("drained", "ready");\n`,
    );
    const failed = await run(join(project, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: project }).then(
      () => null,
      (e: { stdout: string }) => e.stdout,
    );
    expect(failed).toContain(`Argument of type '"drained"' is not assignable to parameter of type`);
  }, 120_000);
});
