// The @greentic/* packages as they would be published: packed tarballs with resolvable
// dependencies and their metadata, installed offline into a scratch project and run there, and
// a `changeset version` / publish dry-run that leaves this tree exactly as it was.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "../../..");
const tmp = mkdtempSync(join(tmpdir(), "greentic-packages-test-"));
const packs = join(tmp, "packs");

interface Workspace {
  dir: string;
  name: string;
  version: string;
}
const workspaces: Workspace[] = ["packages", "apps"].flatMap((group) =>
  readdirSync(join(repo, group))
    .filter((d) => existsSync(join(repo, group, d, "package.json")))
    .map((d) => {
      const pjson = JSON.parse(readFileSync(join(repo, group, d, "package.json"), "utf8"));
      return { dir: `${group}/${d}`, name: pjson.name as string, version: pjson.version as string };
    }),
);
const tarball = (w: Workspace) => join(packs, `${w.name.replace("@", "").replace("/", "-")}-${w.version}.tgz`);
const treeState = () =>
  execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: repo, encoding: "utf8" });

let treeBefore = "";
beforeAll(() => {
  treeBefore = treeState();
  mkdirSync(packs);
  for (const w of workspaces)
    execFileSync("pnpm", ["pack", "--pack-destination", packs], { cwd: join(repo, w.dir), stdio: "ignore" });
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readFromTarball(file: string, path: string): string {
  return execFileSync("tar", ["-xOzf", file, `package/${path}`], { encoding: "utf8" });
}

describe("packed tarballs", () => {
  it("covers every @greentic/* workspace package", () => {
    expect(workspaces.map((w) => w.name).every((n) => n.startsWith("@greentic/"))).toBe(true);
    expect(workspaces.map((w) => w.name)).toContain("@greentic/op");
    for (const w of workspaces) expect(existsSync(tarball(w)), w.name).toBe(true);
  });

  it("carry resolvable dependencies, LICENSE, README and repository metadata", () => {
    const license = readFileSync(join(repo, "LICENSE"), "utf8");
    const names = new Set(workspaces.map((w) => w.name));
    for (const w of workspaces) {
      const file = tarball(w);
      const pjson = JSON.parse(readFromTarball(file, "package.json"));
      for (const [dep, range] of Object.entries({ ...pjson.dependencies, ...pjson.peerDependencies })) {
        expect(range, `${w.name} -> ${dep}`).not.toMatch(/^(workspace|file|link):/);
        if (names.has(dep)) expect(range, `${w.name} -> ${dep}`).toBe(`^${w.version}`);
      }
      expect(pjson.license).toBe("Apache-2.0");
      expect(pjson.repository).toEqual({
        type: "git",
        url: "git+https://github.com/greentic-ai-org/greentic-deployer-ts.git",
        directory: w.dir,
      });
      expect(pjson.publishConfig).toEqual({ access: "public" });
      expect(readFromTarball(file, "LICENSE")).toBe(license);
      expect(readFromTarball(file, "README.md").split("\n")[0]).toBe(`# ${w.name}`);
      const listing = execFileSync("tar", ["-tzf", file], { encoding: "utf8" });
      expect(listing, w.name).not.toMatch(/\.test\.ts\n/);
      expect(listing, w.name).toMatch(/package\/dist\/.+\.js\n/);
    }
  });
});

describe("scratch project", () => {
  const project = join(tmp, "scratch");
  beforeAll(() => {
    mkdirSync(project);
    // Every @greentic/* dependency, direct or not, comes from the local tarballs; the rest from
    // the package store this checkout was installed from (the registry only for what the store lacks).
    const overrides = Object.fromEntries(workspaces.map((w) => [w.name, `file:${tarball(w)}`]));
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({
        name: "scratch",
        private: true,
        type: "module",
        dependencies: {
          "@greentic/op": overrides["@greentic/op"],
          "@greentic/deploy-spec": overrides["@greentic/deploy-spec"],
        },
      }),
    );
    writeFileSync(
      join(project, "pnpm-workspace.yaml"),
      `overrides:\n${Object.entries(overrides)
        .map(([k, v]) => `  "${k}": "${v}"\n`)
        .join("")}`,
    );
    execFileSync("pnpm", ["install", "--prefer-offline"], { cwd: project, stdio: ["ignore", "ignore", "pipe"] });
  }, 120_000);

  it("installs @greentic/op and @greentic/deploy-spec offline from the tarballs and runs op", () => {
    const op = join(project, "node_modules/.bin/op");
    const version = workspaces.find((w) => w.name === "@greentic/op")!.version;
    expect(execFileSync(op, ["--version"], { encoding: "utf8" })).toMatch(new RegExp(`^@greentic/op/${version} `));
    const store = join(project, "store");
    const init = spawnSync(op, ["env", "init", "--store-root", store, "--json"], { encoding: "utf8" });
    expect(init.status).toBe(0);
    const show = spawnSync(op, ["env", "show", "local", "--json", "--store-root", store], { encoding: "utf8" });
    expect(show.status).toBe(0);
    expect(JSON.parse(show.stdout).result.environment.environment_id).toBe("local");
    const missing = spawnSync(op, ["env", "show", "nope", "--store-root", store], { encoding: "utf8" });
    expect(missing.status).toBe(4);
  });

  it("imports deploy-spec and its JSON Schemas through the exports map, and nothing else", () => {
    const spec = readFileSync(join(repo, "fixtures/specs/native.yaml"), "utf8");
    writeFileSync(join(project, "spec.yaml"), spec);
    writeFileSync(
      join(project, "check.mjs"),
      `import { readFileSync } from "node:fs";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import schema from "@greentic/deploy-spec/schemas/deployment-spec.schema.json" with { type: "json" };
const r = parseDeploymentSpec(readFileSync("spec.yaml", "utf8"), { source: "spec.yaml" });
let internal = "";
try { await import("@greentic/deploy-spec/dist/index.js"); } catch (e) { internal = e.code; }
console.log(JSON.stringify({ ok: r.ok, name: r.ok ? r.value.metadata.name : null, schema: schema.$schema, internal }));
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, ["check.mjs"], { cwd: project, encoding: "utf8" }));
    const committed = JSON.parse(
      readFileSync(join(repo, "packages/deploy-spec/schemas/deployment-spec.schema.json"), "utf8"),
    );
    expect(out).toEqual({
      ok: true,
      name: expect.any(String),
      schema: committed.$schema,
      internal: "ERR_PACKAGE_PATH_NOT_EXPORTED",
    });
  });
});

describe("release dry-run", () => {
  it("changeset version bumps the packages in a copy, and publish --dry-run packs without publishing", () => {
    const copy = join(tmp, "copy");
    for (const f of ["package.json", "pnpm-workspace.yaml", ".changeset"])
      cpSync(join(repo, f), join(copy, f), { recursive: true });
    for (const dir of [
      ...workspaces.map((w) => w.dir),
      ...readdirSync(join(repo, "fixtures/plugins")).map((d) => `fixtures/plugins/${d}`),
    ])
      for (const f of ["package.json", "CHANGELOG.md"])
        if (existsSync(join(repo, dir, f))) cpSync(join(repo, dir, f), join(copy, dir, f), { recursive: true });
    const pending = readdirSync(join(copy, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md");
    const version = spawnSync(join(repo, "node_modules/.bin/changeset"), ["version"], { cwd: copy, encoding: "utf8" });
    expect(version.stderr + version.stdout).not.toMatch(/error/i);
    expect(version.status).toBe(0);
    if (pending.length > 0) {
      const bumped = JSON.parse(readFileSync(join(copy, "apps/op/package.json"), "utf8"));
      const before = workspaces.find((w) => w.name === "@greentic/op")!.version;
      expect(bumped.version).not.toBe(before);
      expect(readFileSync(join(copy, "apps/op/CHANGELOG.md"), "utf8")).toContain(`## ${bumped.version}`);
      expect(readdirSync(join(copy, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md")).toEqual([]);
      // Internal ranges follow the bump: nothing points at a version that will not exist.
      expect(bumped.dependencies["@greentic/deploy-spec"]).toBe("workspace:^");
    }
    for (const name of ["@greentic/deploy-spec", "@greentic/op"]) {
      const w = workspaces.find((x) => x.name === name)!;
      const r = spawnSync("pnpm", ["publish", "--dry-run", "--no-git-checks"], {
        cwd: join(repo, w.dir),
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toContain(`Skip publishing ${name}@${w.version} (dry run)`);
    }
    expect(treeState()).toBe(treeBefore);
  }, 120_000);
});
