import { join } from "node:path";
import { ANSWERS_MAX_BYTES, SECRET_MAX_CHARS, TEXT_MAX_CHARS } from "@greentic/deploy-spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditList,
  configSet,
  configShow,
  createOperations,
  createOperationsRegistry,
  envInit,
  envShow,
  secretsList,
  secretsPut,
  trafficSet,
  type OperationsContext,
} from "../src/index.js";
import { expectKind, makeTemp, removeTemp } from "./helpers.js";

// The size limits are the library's: a caller that is not the CLI gets the same refusals, and
// the store is left exactly as it was.
let temp: string;
let ops: OperationsContext;

beforeAll(async () => {
  temp = await makeTemp("limits");
  ops = createOperations({
    storeRoot: join(temp, "store"),
    registry: createOperationsRegistry({ plugins: [], localProcess: { runtimeBin: join(temp, "no-runtime.js") } }),
  });
  await envInit(ops, {});
});

afterAll(async () => {
  await removeTemp(temp);
});

async function unchanged<T>(action: () => Promise<T>): Promise<T> {
  const before = await envShow(ops, "local");
  const audit = (await auditList(ops, "local")).events.length;
  const out = await action();
  const after = await envShow(ops, "local");
  expect(after.etag).toBe(before.etag);
  expect(after.generation).toBe(before.generation);
  expect((await auditList(ops, "local")).events.length).toBe(audit);
  return out;
}

describe("payload limits in the library", () => {
  it("a string of 4097 characters is refused (validation, too-long, its path); 4096 is accepted", async () => {
    const err = await unchanged(() =>
      expectKind(
        configSet(ops, { environment_id: "local", region: "r".repeat(TEXT_MAX_CHARS + 1) }, { source: "c.yaml" }),
        "validation",
      ),
    );
    expect(err.message).toBe(`c.yaml: region: ${TEXT_MAX_CHARS + 1} characters; at most ${TEXT_MAX_CHARS} are allowed`);
    expect(err.path).toBe("region");
    const ok = await configSet(ops, { environment_id: "local", region: "r".repeat(TEXT_MAX_CHARS) });
    expect(ok.changed).toEqual(["region"]);
    expect((await configShow(ops, "local")).host_config.region).toHaveLength(TEXT_MAX_CHARS);
  });

  it("a nested string and an over-long key are refused with their paths", async () => {
    const nested = await unchanged(() =>
      expectKind(
        trafficSet(ops, {
          environment_id: "local",
          deployment_id: "01JAAAAAAAAAAAAAAAAAAAAAAA",
          entries: [{ revision_id: "x".repeat(TEXT_MAX_CHARS + 1), weight_bps: 10_000 }],
          idempotency_key: "k",
        }),
        "validation",
      ),
    );
    expect(nested.path).toBe("entries.0.revision_id");
    const key = await unchanged(() =>
      expectKind(configSet(ops, { environment_id: "local", ["k".repeat(TEXT_MAX_CHARS + 1)]: "v" }), "validation"),
    );
    expect(key.message).toContain(`${TEXT_MAX_CHARS + 1} characters`);
  });

  it("a secret value may be 65536 characters, not one more; the secret is not written", async () => {
    const err = await unchanged(() =>
      expectKind(
        secretsPut(ops, { environment_id: "local", name: "big", value: "v".repeat(SECRET_MAX_CHARS + 1) }),
        "validation",
      ),
    );
    expect(err.path).toBe("value");
    expect(err.message).toContain(`at most ${SECRET_MAX_CHARS}`);
    expect((await secretsList(ops, "local")).names).not.toContain("big");
    await secretsPut(ops, { environment_id: "local", name: "big", value: "v".repeat(SECRET_MAX_CHARS) });
    expect((await secretsList(ops, "local")).names).toContain("big");
  });

  it("a payload over 1 MiB as JSON is refused whole (payload-too-large), before its schema", async () => {
    // 300 strings of 4000 characters: each fits, together they do not.
    const entries = Array.from({ length: 300 }, (_, i) => ({ revision_id: `${i}`.padEnd(4000, "x"), weight_bps: 0 }));
    const err = await unchanged(() =>
      expectKind(
        trafficSet(
          ops,
          { environment_id: "local", deployment_id: "01JAAAAAAAAAAAAAAAAAAAAAAA", entries, idempotency_key: "k" },
          { source: "big.json" },
        ),
        "validation",
      ),
    );
    expect(err.message).toMatch(new RegExp(`^big\\.json: \\d+ bytes; at most ${ANSWERS_MAX_BYTES} are allowed$`));
    expect(err.path).toBe("big.json");
  });
});
