import { describe, expect, it } from "vitest";
import {
  ANSWERS_SCHEMAS,
  EnvUpdateAnswersSchema,
  TrafficSetAnswersSchema,
  normalizeTrafficEntries,
} from "./answers.js";
import { parseDocument } from "./validation.js";

const RID = "01J00000000000000000000001";
const RID2 = "01J00000000000000000000002";
const DEP = "01J00000000000000000000100";

describe("answers schemas", () => {
  it("cover every mutating verb", () => {
    expect(Object.keys(ANSWERS_SCHEMAS).sort()).toEqual([
      "bundles add",
      "bundles remove",
      "bundles update",
      "config set",
      "deploy run",
      "env create",
      "env init",
      "env update",
      "env-packs add",
      "env-packs remove",
      "env-packs rollback",
      "env-packs update",
      "revisions archive",
      "revisions drain",
      "revisions prune",
      "revisions stage",
      "revisions tag",
      "revisions untag",
      "revisions warm",
      "secrets delete",
      "secrets put",
      "secrets rotate",
      "traffic rollback",
      "traffic set",
    ]);
  });
  it("reject unknown keys in every schema", () => {
    for (const [verb, schema] of Object.entries(ANSWERS_SCHEMAS)) {
      const r = parseDocument(schema, { environment_id: "local", bogus_field: 1 });
      expect(r.ok, verb).toBe(false);
      expect(!r.ok && r.issues.some((i) => i.path === "bogus_field" && i.code === "unknown-field"), verb).toBe(true);
    }
  });
  it("apply defaults for traffic set and require the idempotency key", () => {
    expect(
      TrafficSetAnswersSchema.parse({
        environment_id: "local",
        deployment_id: DEP,
        entries: [{ revision_id: RID, weight_percent: 100 }],
        idempotency_key: "k",
      }),
    ).toEqual({
      environment_id: "local",
      deployment_id: DEP,
      entries: [{ revision_id: RID, weight_percent: 100 }],
      idempotency_key: "k",
      updated_by: "operator",
      authorization_ref: "auth.json",
    });
    const r = parseDocument(TrafficSetAnswersSchema, {
      environment_id: "local",
      deployment_id: DEP,
      entries: [{ revision_id: RID, weight_bps: 10000 }],
    });
    expect(!r.ok && r.issues).toEqual([
      { path: "idempotency_key", code: "missing-field", message: "required field is missing (expected string)" },
    ]);
  });
  it("report weight problems at the entry", () => {
    const r = parseDocument(TrafficSetAnswersSchema, {
      environment_id: "local",
      deployment_id: DEP,
      idempotency_key: "k",
      entries: [{ revision_id: RID, weight_percent: 33.333 }, { revision_id: RID2 }],
    });
    expect(!r.ok && r.issues).toEqual([
      {
        path: "entries.0.weight_percent",
        code: "weight-percent-precision",
        message: "weight 33.333% is not a whole number of basis points (0.01%)",
      },
      { path: "entries.1.weight_bps", code: "missing-field", message: "entry needs weight_bps or weight_percent" },
    ]);
  });
  it("let weight_bps win over weight_percent and reject duplicates", () => {
    expect(normalizeTrafficEntries([{ revision_id: RID, weight_bps: 10000, weight_percent: 1 }])).toEqual({
      entries: [{ revision_id: RID, weight_bps: 10000 }],
      issues: [],
    });
    expect(
      normalizeTrafficEntries([
        { revision_id: RID, weight_bps: 5000 },
        { revision_id: RID, weight_bps: 5000 },
      ]).issues,
    ).toEqual([
      {
        path: "entries.1.revision_id",
        code: "duplicate-entry",
        message: `revision ${RID} appears twice (entries 0 and 1)`,
      },
    ]);
    expect(normalizeTrafficEntries([]).issues.map((i) => i.code)).toEqual(["empty-split"]);
  });
  it("take tri-state field updates and refuse both keys at once", () => {
    expect(
      EnvUpdateAnswersSchema.parse({ environment_id: "local", region: { value: "eu" }, name: { clear: false } }),
    ).toEqual({ environment_id: "local", region: { value: "eu" }, name: { clear: false } });
    const both = parseDocument(EnvUpdateAnswersSchema, {
      environment_id: "local",
      region: { value: "eu", clear: true },
    });
    expect(!both.ok && both.issues).toEqual([
      {
        path: "region",
        code: "invalid-union",
        message: '{"value":"eu","clear":true} matches none of the allowed forms',
      },
    ]);
  });
  it("check revenue shares and secret names", () => {
    const r = parseDocument(ANSWERS_SCHEMAS["bundles add"], {
      environment_id: "local",
      bundle_id: "b",
      revenue_share: [{ party_id: "a", basis_points: 6000 }],
    });
    expect(!r.ok && r.issues).toEqual([
      {
        path: "revenue_share",
        code: "basis-points-sum",
        message: "revenue shares sum to 6000 basis points; they must sum to exactly 10000",
      },
    ]);
    expect(
      parseDocument(ANSWERS_SCHEMAS["secrets put"], { environment_id: "local", name: "shop/API_KEY", value: "v" }).ok,
    ).toBe(true);
    const bad = parseDocument(ANSWERS_SCHEMAS["secrets put"], {
      environment_id: "local",
      name: "../etc/passwd",
      value: "v",
    });
    expect(!bad.ok && bad.issues.map((i) => [i.path, i.code])).toEqual([["name", "invalid-format"]]);
  });
});
