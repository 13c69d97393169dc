import { readFile } from "node:fs/promises";
import { GreenticError, type DeploymentSpec } from "@greentic/deploy-spec";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import { parse as parseYaml } from "yaml";
import { loadPlan, PLAN_SCHEMA, type SingleVmPlan } from "./plan.js";

/**
 * `spec.bundle.source` of a canary spec that names no bundle: an environment bound to the VM
 * deploys each revision's own bundle, so the spec it reads (and `op single-vm status/plan/apply`
 * with it) has none. Plans and applies of such a spec converge the revisions recorded on the VM.
 */
export const REVISION_BUNDLES = "/nonexistent/replaced-by-the-staged-revision.gtbundle";

// Reading what `op single-vm` verbs are given (a DeploymentSpec file, or a plan saved by
// `plan --out`), so that a TypeScript tool gets the same checks and errors as the CLI.

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function readProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES") return "permission denied";
  return (error as Error).message;
}

/** A spec or plan file as text (`-` reads stdin); an unreadable file is `invalid-argument` naming it. */
async function readInput(file: string): Promise<{ source: string; text: string }> {
  const source = file === "-" ? "<stdin>" : file;
  try {
    return { source, text: file === "-" ? await readStdin() : await readFile(file, "utf8") };
  } catch (error) {
    throw new GreenticError("invalid-argument", `${source}: cannot read spec file: ${readProblem(error)}`, {
      path: source,
      hint: "pass an existing DeploymentSpec file with --spec (or - for stdin); `op single-vm init-spec --out FILE` writes one",
      cause: error,
    });
  }
}

/**
 * Parses and validates DeploymentSpec text (YAML or JSON). Malformed YAML/JSON is
 * `answers-parse`, any other problem `validation`, with the file and field path in the message
 * and every issue in `issues`.
 */
export function parseDeploymentSpecText(source: string, text: string): DeploymentSpec {
  const parsed = parseDeploymentSpec(withRevisionBundles(text), { source });
  if (parsed.ok) return parsed.value;
  const first = parsed.issues[0];
  throw new GreenticError(first?.code === "parse" ? "answers-parse" : "validation", parsed.summary, {
    path: first?.path || source,
    issues: parsed.issues,
    hint: `fix ${first?.path ? `${first.path} in ` : ""}${source}; \`op single-vm init-spec\` prints a commented spec with every default`,
  });
}

/** Reads and validates a DeploymentSpec file (`-`: stdin), as `op single-vm` verbs do. */
export async function loadDeploymentSpec(file: string): Promise<DeploymentSpec> {
  const { source, text } = await readInput(file);
  return parseDeploymentSpecText(source, text);
}

/**
 * Reads a file that is either a plan saved by `op single-vm plan --out` (JSON with the plan
 * schema) or a DeploymentSpec, recognised from its content, as `op single-vm apply FILE` does.
 */
export async function loadSpecOrPlan(file: string): Promise<DeploymentSpec | SingleVmPlan> {
  const { source, text } = await readInput(file);
  if (file !== "-" && text.trimStart().startsWith("{")) {
    let schema: unknown;
    try {
      schema = (JSON.parse(text) as { schema?: unknown }).schema;
    } catch {
      // not JSON: the spec parser reports it
    }
    if (schema === PLAN_SCHEMA) return loadPlan(file);
  }
  return parseDeploymentSpecText(source, text);
}

/** A canary spec without `spec.bundle` gets {@link REVISION_BUNDLES} as its source; any other text is returned as is. */
export function withRevisionBundles(text: string): string {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return text; // the spec parser reports it
  }
  const spec = (doc as { spec?: { bundle?: unknown; rollout?: { strategy?: unknown } } } | null)?.spec;
  if (typeof spec !== "object" || spec === null || spec.bundle !== undefined || spec.rollout?.strategy !== "canary")
    return text;
  spec.bundle = { source: REVISION_BUNDLES };
  return JSON.stringify(doc);
}
