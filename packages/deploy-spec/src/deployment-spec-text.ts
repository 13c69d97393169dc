import { parse as parseYaml, YAMLParseError } from "yaml";
import { GreenticError } from "./errors.js";
import {
  type DeploymentSpec,
  type DeploymentSpecParseOptions,
  type DeploymentSpecResult,
  fail,
  validateDeploymentSpec,
} from "./deployment-spec.js";

// The text side of DeploymentSpec (YAML or JSON in, validated spec out) has its own module and
// entry (`@greentic/deploy-spec/deployment-spec-text`): yaml costs more to load than every
// schema of this package together, and only the single-VM verbs read a spec file.

/**
 * Parses a DeploymentSpec from YAML or JSON text (chosen by content), validates it and applies
 * the defaults. Problems come back as data: issues with paths such as `spec.runtime.admin.bind`.
 */
export function parseDeploymentSpec(text: string, options: DeploymentSpecParseOptions = {}): DeploymentSpecResult {
  const source = options.source ?? "deployment spec";
  let value: unknown;
  const trimmed = text.trimStart();
  try {
    value = trimmed.startsWith("{") ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    const detail =
      error instanceof YAMLParseError || error instanceof SyntaxError ? error.message.split("\n")[0] : String(error);
    return fail(source, [
      { path: "", code: "parse", message: `not valid ${trimmed.startsWith("{") ? "JSON" : "YAML"}: ${detail}` },
    ]);
  }
  return validateDeploymentSpec(value, options);
}

/** Like {@link parseDeploymentSpec} but throws `GreenticError("validation")` with the issues. */
export function assertDeploymentSpec(text: string, options: DeploymentSpecParseOptions = {}): DeploymentSpec {
  const result = parseDeploymentSpec(text, options);
  if (result.ok) return result.value;
  const first = result.issues[0];
  throw new GreenticError("validation", result.summary, {
    path: first?.path || undefined,
    issues: result.issues,
    hint: "fix the field named above; `op single-vm init-spec` prints a commented spec with every default",
  });
}
