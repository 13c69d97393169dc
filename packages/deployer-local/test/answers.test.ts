import { answersJsonSchema } from "@greentic/env-packs";
import { describe, expect, it } from "vitest";
import { LocalProcessAnswersSchema, localProcessDeployerHandler } from "../src/index.js";

describe("local-process answers", () => {
  it("publishes the input side of its answers schema (defaults optional)", () => {
    const schema = answersJsonSchema(localProcessDeployerHandler())!;
    expect(Object.keys(schema.properties as object)).toEqual([
      "warm_timeout_seconds",
      "stop_grace_seconds",
      "router_listen",
    ]);
    expect(schema.required).toBeUndefined();
  });

  it("refuses a router_listen that is not loopback", () => {
    const parsed = LocalProcessAnswersSchema.safeParse({ router_listen: "0.0.0.0:8080" });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => [issue.path.join("."), issue.message])).toEqual([
      ["router_listen", '"0.0.0.0" is not a loopback address (127.0.0.0/8, ::1 or localhost)'],
    ]);
  });
});
