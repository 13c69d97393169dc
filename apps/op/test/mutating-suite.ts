import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answersJsonSchemaFile } from "./schema-files.js";
import { type BadInput, type Store, checkBadInput, commonBadInputs, ensureBuilt, store, yaml } from "./helpers.js";
import { readFileSync } from "node:fs";

/** Declarative description of one mutating verb's bad-input table. */
export interface MutatingSuite<F> {
  /** e.g. ["traffic", "set"] */
  verb: readonly string[];
  /** Prepares the shared store once (beforeAll) and returns ids the payloads use. */
  setup: (s: Store) => F;
  /** A valid payload for the prepared store. */
  valid: (f: F) => Record<string, unknown>;
  /** A required field (omit when the payload has none). */
  missingField?: string;
  wrongType: [string, string];
  /** The field naming the target (revision/deployment) and the case name; unknown target -> exit 4. */
  unknownTarget?: { field: string; value: string; name: string };
  /** Two payloads sharing an idempotency key: the first succeeds, the second must be refused (exit 3). */
  idempotency?: (f: F) => { first: Record<string, unknown>; second: Record<string, unknown> };
  /** Set false for verbs that create the environment (an unknown one is not an error). */
  unknownEnv?: boolean;
  /** Set false where a precondition does not apply. */
  stale?: boolean;
  extra?: (f: F) => BadInput[];
}

/** Registers the bad-input table and the `--schema` check of a mutating verb. */
export function describeMutating<F>(suite: MutatingSuite<F>): { get: () => { s: Store; f: F } } {
  let s!: Store;
  let f!: F;
  beforeAll(() => {
    ensureBuilt();
    s = store({ persistent: true });
    f = suite.setup(s);
  });
  afterAll(() => s?.dispose());
  const name = suite.verb.join(" ");
  describe(`op ${name}: bad input`, () => {
    const cases = (): BadInput[] => {
      const valid = suite.valid(f);
      const out = commonBadInputs(yaml(valid), {
        missingField: suite.missingField ?? "",
        wrongType: suite.wrongType,
      }).filter((c) => suite.missingField !== undefined || c.name !== "missing required field");
      out.push({
        name: "valid payload as JSON but with a wrong type (file named .json)",
        answers: JSON.stringify({ ...valid, [suite.wrongType[0]]: JSON.parse(suite.wrongType[1]) }),
        exit: 2,
        kind: "validation",
        path: suite.wrongType[0],
      });
      if (suite.unknownEnv !== false)
        out.push({
          name: "unknown environment",
          answers: yaml({ ...valid, environment_id: "nope" }),
          exit: 4,
          kind: "not-found",
          message: ["nope"],
        });
      if (suite.unknownTarget)
        out.push({
          name: suite.unknownTarget.name,
          answers: yaml({ ...valid, [suite.unknownTarget.field]: suite.unknownTarget.value }),
          exit: 4,
          kind: "not-found",
          message: [suite.unknownTarget.value],
        });
      if (suite.stale !== false)
        out.push({
          name: "stale precondition",
          answers: yaml(valid),
          args: ["--expected-generation", "9999"],
          exit: 3,
          kind: "precondition-failed",
          message: [/generation/],
        });
      if (suite.idempotency) {
        const { first, second } = suite.idempotency(f);
        out.push({
          name: "reused idempotency key with another payload",
          answers: yaml(second),
          before: (st) => {
            const r = st.op([...suite.verb, "--answers", st.file("first.yaml", yaml(first)), "--json"]);
            expect(r.status, `first call: ${r.stdout}${r.stderr}`).toBe(0);
          },
          exit: 3,
          kind: ["idempotency-conflict", "conflict"],
          message: [/idempotency|already/i],
        });
      }
      out.push(...(suite.extra?.(f) ?? []));
      return out;
    };
    // One test per case keeps failures readable; the case list needs the fixture, hence the lazy table.
    const names = [
      "malformed JSON",
      "malformed YAML",
      "empty file",
      "missing file",
      "unknown field",
      "wrong type",
      "valid payload as JSON but with a wrong type (file named .json)",
    ];
    if (suite.missingField !== undefined) names.push("missing required field");
    if (suite.unknownEnv !== false) names.push("unknown environment");
    if (suite.unknownTarget) names.push(suite.unknownTarget.name);
    if (suite.stale !== false) names.push("stale precondition");
    if (suite.idempotency) names.push("reused idempotency key with another payload");
    for (const caseName of names) {
      it(caseName, () => {
        const c = cases().find((x) => x.name === caseName)!;
        checkBadInput(s, suite.verb, c, caseName.includes(".json") ? "answers.json" : "answers.yaml");
      });
    }
    it("extra cases", () => {
      for (const c of suite.extra?.(f) ?? []) checkBadInput(s, suite.verb, c);
    });
    it("--schema prints the committed JSON Schema", () => {
      const r = s.op([...suite.verb, "--schema"]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(
        JSON.parse(readFileSync(answersJsonSchemaFile(name === "deploy" ? "deploy run" : name), "utf8")),
      );
    });
  });
  return { get: () => ({ s, f }) };
}
