import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  BundleDeploymentSchema,
  DOCUMENT_SCHEMAS,
  RevenuePolicyDocumentSchema,
  TrafficSplitSchema,
  canTransition,
  canonicalJsonOfText,
  checkEnvId,
  checkPackDescriptor,
  normalizePublicBaseUrl,
  parseDocument,
  parseEnvironment,
  parseExtensionRef,
  parseRuntimeRef,
  parseSecretRef,
  sha256Hex,
  type LifecycleState,
  type ParseResult,
} from "../src/index.js";

/**
 * The compatibility corpus: cases taken from the reference's own tests and sources
 * (greenticai/greentic-deployer 1.1.28, greentic-types), each citing the file and line it
 * comes from (`ref`) and saying what the reference does (`reference`). A case marked
 * `difference` is a deliberate divergence, which must be listed in
 * docs/internals/reference-differences.md under that anchor.
 */
interface CompatCase {
  id: string;
  ref: string;
  reference: string;
  input: unknown;
  expect: Record<string, unknown> & { ok?: boolean };
  difference?: string;
  kind?: string;
  schema?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const corpusDir = join(here, "compat");
const corpus = new Map<string, CompatCase[]>(
  readdirSync(corpusDir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => [
      f.replace(/\.json$/, ""),
      (JSON.parse(readFileSync(join(corpusDir, f), "utf8")) as { cases: CompatCase[] }).cases,
    ]),
);
const differencesDoc = readFileSync(join(here, "../../../docs/internals/reference-differences.md"), "utf8");

function cases(file: string): CompatCase[] {
  const list = corpus.get(file);
  if (list === undefined) throw new Error(`no corpus file ${file}.json`);
  return list;
}

function expectParse(result: ParseResult<unknown>, c: CompatCase): void {
  const codes = result.ok ? [] : result.issues.map((i) => i.code);
  expect(result.ok, `${c.id}: ${result.ok ? "accepted" : codes.join(", ")}`).toBe(c.expect.ok);
  for (const code of (c.expect.codes as string[] | undefined) ?? []) expect(codes).toContain(code);
  if (c.expect.value !== undefined && result.ok) expect(result.value).toEqual(c.expect.value);
}

describe("compatibility corpus", () => {
  it("has at least 150 cases, each citing a reference file and line", () => {
    const all = [...corpus.values()].flat();
    expect(all.length).toBeGreaterThanOrEqual(150);
    for (const c of all) {
      expect(c.ref, c.id).toMatch(/^greenticai\/greentic-(deployer|types)[@:].*:\d+$/);
      expect(c.reference.length, c.id).toBeGreaterThan(0);
    }
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
  });

  it("lists every deliberate difference in docs/internals/reference-differences.md", () => {
    for (const c of [...corpus.values()].flat()) {
      if (c.difference !== undefined) expect(differencesDoc, c.id).toContain(`<a id="${c.difference}"></a>`);
    }
  });

  describe("environment ids", () => {
    it.each(cases("env-ids").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const problem = checkEnvId(c.input as string);
      expect(problem === null).toBe(c.expect.ok);
      if (problem !== null) expect(problem.code).toBe(c.expect.code);
    });
  });

  describe("pack descriptors", () => {
    it.each(cases("descriptors").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const r = checkPackDescriptor(c.input as string);
      expect(r.ok).toBe(c.expect.ok);
      if (r.ok) expect([r.value.path, r.value.version]).toEqual([c.expect.path, c.expect.version]);
      else expect(r.code).toBe(c.expect.code);
    });
  });

  describe("references", () => {
    it.each(cases("refs").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const input = c.input as string;
      if (c.kind === "extension") {
        const r = parseExtensionRef(input);
        expect(r !== null).toBe(c.expect.ok);
        if (r !== null) expect([r.path, r.instance ?? null]).toEqual([c.expect.path, c.expect.instance]);
        return;
      }
      const r = c.kind === "secret" ? parseSecretRef(input) : parseRuntimeRef(input);
      expect(r !== null).toBe(c.expect.ok);
      if (r !== null) expect(r).toEqual({ env: c.expect.env, path: c.expect.path });
    });
  });

  describe("lifecycle matrix", () => {
    it.each(cases("lifecycle").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const { from, to } = c.input as { from: LifecycleState; to: LifecycleState };
      expect(canTransition(from, to)).toBe(c.expect.ok);
    });
  });

  describe("basis points", () => {
    const ulid = (n: number) => `01J${String(n).padStart(23, "0")}`;
    it.each(cases("basis-points").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const { target, weights } = c.input as { target: string; weights: number[] };
      const share = weights.map((w, i) => ({ party_id: `party-${i}`, basis_points: w }));
      const base = {
        env_id: "local",
        deployment_id: ulid(1),
        bundle_id: "customer.support",
        created_at: "2026-07-01T12:00:00Z",
      };
      let result: ParseResult<unknown>;
      if (target === "split") {
        result = parseDocument(TrafficSplitSchema, {
          ...base,
          schema: "greentic.traffic-split.v1",
          generation: 1,
          entries: weights.map((w, i) => ({ revision_id: ulid(1000 + i), weight_bps: w })),
          updated_at: base.created_at,
          updated_by: "operator://test",
          idempotency_key: "01JTKW5B4W4Q5Y1CQW93F7S5VH",
          authorization_ref: "audit/test.json",
        });
      } else if (target === "revenue_share") {
        result = parseDocument(BundleDeploymentSchema, {
          ...base,
          schema: "greentic.bundle-deployment.v1",
          customer_id: "local-dev",
          status: "active",
          current_revisions: [],
          route_binding: {
            hosts: ["example.com"],
            path_prefixes: ["/"],
            tenant_selector: { tenant: "acme", team: "support" },
          },
          revenue_share: share,
          revenue_policy_ref: "billing/v1.json.sig",
          authorization_ref: "audit/test.json",
        });
      } else {
        result = parseDocument(RevenuePolicyDocumentSchema, {
          ...base,
          schema: "greentic.revenue-policy.v1",
          version: 1,
          customer_id: "c",
          revenue_share: share,
        });
      }
      expect(result.ok).toBe(c.expect.ok);
      if (!result.ok) expect(result.issues.map((i) => i.code)).toContain(c.expect.code);
    });
  });

  describe("public base URLs", () => {
    it.each(cases("public-base-url").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const r = normalizePublicBaseUrl(c.input as string);
      expect(r.ok).toBe(c.expect.ok);
      if (r.ok) expect(r.value).toBe(c.expect.value);
    });
  });

  describe("canonical JSON", () => {
    it.each(cases("canonical-json").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const out = canonicalJsonOfText(c.input as string);
      expect(out).toBe(c.expect.canonical);
      if (c.expect.sha256 !== undefined) expect(sha256Hex(out)).toBe(c.expect.sha256);
    });
  });

  describe("documents", () => {
    it.each(cases("documents").map((c) => [c.id, c] as const))("%s", (_id, c) => {
      const name = c.schema!;
      const result =
        name === "environment"
          ? parseEnvironment(c.input)
          : parseDocument(DOCUMENT_SCHEMAS[name as keyof typeof DOCUMENT_SCHEMAS], c.input);
      expectParse(result, c);
    });
  });
});
