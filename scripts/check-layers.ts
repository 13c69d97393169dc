// `pnpm lint` runs this: the workspace's dependencies point one way and no module imports
// itself back. Three checks, each failing with the file or package at fault:
//   1. every @greentic dependency of a package (package.json and the imports of its sources)
//      is of a lower layer than the package itself (LAYERS below);
//   2. no import cycle between the modules of a package (static imports; `import type` is
//      erased at build time and left out, as dpdm -T and madge's skipTypeImports do);
//   3. no file reaches into another package by a relative path or a `/src/` subpath: packages
//      are used through their name and `exports`;
//   4. every declared dependency is used: imported by the package's files (an oclif plugin
//      named in its package.json counts), and a workspace package in `dependencies` by a
//      file that is not a test or a bench (else it belongs in `devDependencies`).
// Node built-ins only, so that it runs before anything is built.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/** Layer of each workspace package: a package may depend only on packages of a lower layer. */
export const LAYERS: Readonly<Record<string, number>> = {
  "@greentic/io-kit": 0,
  "@greentic/deploy-spec": 1,
  "@greentic/environment-store": 2,
  "@greentic/env-packs": 2,
  "@greentic/bundle": 2,
  "@greentic/runtime": 3,
  "@greentic/environment-store-postgres": 3,
  "@greentic/deployer-local": 4,
  "@greentic/adapter-single-vm": 4,
  "@greentic/operations": 5,
  "@greentic/op": 6,
};
/** Packages nothing in the workspace may depend on (the CLI, plugins and fixtures). */
const LEAF_LAYER = 7;

interface Workspace {
  name: string;
  dir: string;
  layer: number;
  deps: string[];
  /** `dependencies` only, and the oclif plugins the package names. */
  runtimeDeps: string[];
  oclifPlugins: string[];
}

const repo = resolve(import.meta.dirname, "..");

function workspaces(): Workspace[] {
  const dirs = ["packages", "apps", "fixtures/plugins"].flatMap((group) =>
    existsSync(join(repo, group)) ? readdirSync(join(repo, group)).map((name) => join(repo, group, name)) : [],
  );
  return dirs
    .filter((dir) => existsSync(join(dir, "package.json")))
    .map((dir) => {
      const pjson = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name: string;
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
        oclif?: { plugins?: string[] };
      };
      const deps = Object.keys({ ...pjson.dependencies, ...pjson.devDependencies, ...pjson.peerDependencies });
      const runtimeDeps = Object.keys(pjson.dependencies ?? {});
      const oclifPlugins = pjson.oclif?.plugins ?? [];
      return { name: pjson.name, dir, layer: LAYERS[pjson.name] ?? LEAF_LAYER, deps, runtimeDeps, oclifPlugins };
    });
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => /\.(ts|js)$/.test(file) && !file.split(sep).includes("node_modules"))
    .map((file) => join(dir, file))
    .filter((file) => statSync(file).isFile());
}

// Static import and re-export specifiers; dynamic `import()` is how lazy loading breaks a
// dependency on purpose and is reported only by the layer check.
const STATIC_IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/gms;
const TYPE_IMPORT = /^\s*(?:import|export)\s+type\s/;
const BARE_IMPORT = /^\s*import\s+["']([^"']+)["']/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Imported specifiers; `runtime`: only what is imported when the module loads (no types, no `import()`). */
function specifiers(text: string, runtime: boolean): string[] {
  const out: string[] = [];
  for (const pattern of runtime ? [STATIC_IMPORT, BARE_IMPORT] : [STATIC_IMPORT, BARE_IMPORT, DYNAMIC_IMPORT]) {
    for (const match of text.matchAll(pattern)) if (!runtime || !TYPE_IMPORT.test(match[0])) out.push(match[1]!);
  }
  return out;
}

const packageOf = (specifier: string) =>
  specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;

/** Resolves a relative import of a TypeScript source (`./x.js` → `./x.ts`). */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

export function check(): string[] {
  const problems: string[] = [];
  const all = workspaces();
  const byName = new Map(all.map((w) => [w.name, w]));

  for (const w of all) {
    const rel = relative(repo, w.dir);
    const files = sourceFiles(w.dir).filter((file) => !relative(w.dir, file).startsWith(`dist${sep}`));
    // 1. Layers: package.json and what the sources import.
    const used = new Map<string, string>();
    for (const file of files) {
      for (const spec of specifiers(readFileSync(file, "utf8"), false)) {
        const name = packageOf(spec);
        if (byName.has(name) && name !== w.name && !used.has(name)) used.set(name, relative(repo, file));
      }
    }
    for (const dep of new Set([...w.deps.filter((d) => byName.has(d)), ...used.keys()])) {
      const target = byName.get(dep)!;
      if (target.layer >= w.layer) {
        const where = used.has(dep) ? ` (imported in ${used.get(dep)})` : " (package.json)";
        problems.push(
          `${rel}: ${w.name} (layer ${w.layer}) depends on ${dep} (layer ${target.layer})${where}; dependencies point down only`,
        );
      }
      if (used.has(dep) && !w.deps.includes(dep))
        problems.push(`${rel}: imports ${dep} in ${used.get(dep)} but does not declare it in package.json`);
    }
    // 4. Declared dependencies are used.
    const imported = new Map<string, boolean>();
    for (const file of files) {
      const shipped = !/(\.test\.ts$|(^|\/)(test|bench)\/)/.test(relative(w.dir, file).split(sep).join("/"));
      for (const spec of specifiers(readFileSync(file, "utf8"), false)) {
        const name = packageOf(spec);
        imported.set(name, (imported.get(name) ?? false) || shipped);
      }
    }
    for (const dep of w.runtimeDeps) {
      if (dep.startsWith("@types/") || w.oclifPlugins.includes(dep)) continue;
      if (!imported.has(dep)) problems.push(`${rel}: declares ${dep} in dependencies but nothing imports it`);
      else if (byName.has(dep) && imported.get(dep) === false)
        problems.push(`${rel}: ${dep} is imported by tests or benches only; declare it in devDependencies`);
    }
    // 3. No reaching into another package's files.
    for (const file of files) {
      for (const spec of specifiers(readFileSync(file, "utf8"), false)) {
        const name = packageOf(spec);
        if (byName.has(name) && /\/src(\/|$)/.test(spec.slice(name.length)))
          problems.push(`${relative(repo, file)}: imports ${spec}; use the package's exports, not its src/`);
        if (spec.startsWith(".")) {
          const target = resolve(dirname(file), spec);
          const other = all.find((o) => o !== w && target.startsWith(o.dir + sep));
          if (other !== undefined)
            problems.push(
              `${relative(repo, file)}: imports ${spec}, a file of ${other.name}; import the package by name`,
            );
        }
      }
    }
    // 2. Cycles between the modules of the package's src/.
    const graph = new Map<string, string[]>();
    for (const file of sourceFiles(join(w.dir, "src")).filter((f) => !f.endsWith(".test.ts"))) {
      const edges = specifiers(readFileSync(file, "utf8"), true)
        .filter((spec) => spec.startsWith("."))
        .map((spec) => resolveRelative(file, spec))
        .filter((target): target is string => target !== undefined);
      graph.set(file, edges);
    }
    for (const cycle of cycles(graph)) {
      problems.push(`${rel}: import cycle ${cycle.map((file) => relative(w.dir, file)).join(" -> ")}`);
    }
  }
  return problems;
}

/** One cycle per strongly connected component with more than one module (or a self-import). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(pathThrough(graph, component));
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** A readable cycle inside a strongly connected component: from its first module back to it. */
function pathThrough(graph: Map<string, string[]>, component: string[]): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0]!;
  const path = [start];
  const seen = new Set([start]);
  let current = start;
  for (;;) {
    const edges = (graph.get(current) ?? []).filter((to) => members.has(to));
    if (edges.includes(start)) return [...path, start];
    const to = edges.find((e) => !seen.has(e)) ?? edges[0]!;
    path.push(to);
    if (seen.has(to)) return path;
    seen.add(to);
    current = to;
  }
}

if (import.meta.main) {
  const problems = check();
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`\n${problems.length} layering problem(s): see scripts/check-layers.ts for the rules`);
    process.exit(1);
  }
  console.log(`layers: ${Object.keys(LAYERS).length} packages, dependencies point down, no import cycles`);
}
