import { LOCAL_DEFAULT_BINDINGS, isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  EnvPackRegistry,
  answersJsonSchema,
  builtinHandlers,
  createDefaultRegistry,
  type EnvPackHandler,
} from "../src/index.js";

function secretsHandler(path = "acme.secrets.vault", range = "^1.0.0"): EnvPackHandler {
  return {
    slot: "secrets",
    descriptorPath: path,
    supportedVersions: range,
    description: "test",
    secrets: {
      put: async (_ctx, key) => ({ key, created: true }),
      get: async () => "",
      list: async () => [],
      delete: async (_ctx, key) => ({ key, deleted: false }),
      rotate: async (_ctx, key) => ({ key, rotated_at: "" }),
    },
  };
}

async function rejection(promise: Promise<unknown> | (() => unknown)): Promise<GreenticError> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

describe("EnvPackRegistry", () => {
  it("resolves a registered descriptor within the supported range", async () => {
    const registry = new EnvPackRegistry();
    registry.register(secretsHandler());
    const resolved = await registry.resolve("acme.secrets.vault@1.4.2");
    expect(resolved.handler.descriptorPath).toBe("acme.secrets.vault");
    expect(resolved.descriptor).toEqual({
      path: "acme.secrets.vault",
      version: "1.4.2",
      raw: "acme.secrets.vault@1.4.2",
    });
    expect((await registry.resolve({ path: "acme.secrets.vault", version: "1.0.0" })).handler.slot).toBe("secrets");
  });

  it("refuses a duplicate path instead of shadowing (conflict / duplicate-registration)", async () => {
    const registry = new EnvPackRegistry();
    const first = secretsHandler();
    registry.register(first, { source: "first-plugin" });
    const error = await rejection(() => registry.register(secretsHandler("acme.secrets.vault", "^2.0.0")));
    expect(error.kind).toBe("conflict");
    expect(error.details).toMatchObject({
      code: "duplicate-registration",
      descriptor_path: "acme.secrets.vault",
      registered_by: "first-plugin",
    });
    expect((await registry.resolve("acme.secrets.vault@1.0.0")).handler).toBe(first);
  });

  it("refuses a deployer without a credentials contract", async () => {
    const [localProcess] = builtinHandlers();
    const { credentials: _drop, ...noCredentials } = localProcess!;
    const error = await rejection(() =>
      new EnvPackRegistry().register({ ...noCredentials, descriptorPath: "acme.deployer.bare" }),
    );
    expect(error.kind).toBe("validation");
    expect(error.details?.code).toBe("deployer-missing-credentials");
  });

  it.each([
    ["an unknown slot", { slot: "storage" }],
    ["a bad descriptor path", { descriptorPath: "NoDots" }],
    ["a bad semver range", { supportedVersions: "not a range" }],
    ["a missing capability", { secrets: undefined }],
  ])("refuses a handler with %s (validation / invalid-handler)", async (_what, patch) => {
    const error = await rejection(() =>
      new EnvPackRegistry().register({ ...secretsHandler(), ...patch } as EnvPackHandler),
    );
    expect(error.kind).toBe("validation");
    expect(error.details?.code).toBe("invalid-handler");
  });

  it("reports an unknown kind as not-found / unknown-kind", async () => {
    const error = await rejection(new EnvPackRegistry().resolve("acme.secrets.nope@1.0.0"));
    expect(error.kind).toBe("not-found");
    expect(error.details).toMatchObject({ code: "unknown-kind", kind: "acme.secrets.nope@1.0.0" });
    expect(error.message).toContain("acme.secrets.nope@1.0.0");
    expect(error.hint).toBeTruthy();
  });

  it("reports a version outside the range as version-unsupported {kind, requested, supported}", async () => {
    const registry = new EnvPackRegistry();
    registry.register(secretsHandler());
    const error = await rejection(registry.resolve("acme.secrets.vault@2.0.0"));
    expect(error.kind).toBe("validation");
    expect(error.details).toEqual({
      code: "version-unsupported",
      kind: "acme.secrets.vault@2.0.0",
      requested: "2.0.0",
      supported: "^1.0.0",
    });
  });

  it("reports a slot mismatch {kind, expected, actual}", async () => {
    const registry = new EnvPackRegistry();
    registry.register(secretsHandler());
    expect((await registry.resolveForSlot("secrets", "acme.secrets.vault@1.0.0")).handler.slot).toBe("secrets");
    const error = await rejection(registry.resolveForSlot("deployer", "acme.secrets.vault@1.0.0"));
    expect(error.kind).toBe("validation");
    expect(error.details).toEqual({
      code: "slot-mismatch",
      kind: "acme.secrets.vault@1.0.0",
      expected: "deployer",
      actual: "secrets",
    });
  });

  it.each([
    ["greentic.secrets.dev-store", "missing-version"],
    ["greentic.secrets.dev-store@0.1.0@1", "multiple-at"],
    ["Greentic.secrets@0.1.0", "invalid-path-char"],
    ["greentic.secrets.dev-store@latest", "invalid-semver"],
  ])("rejects the malformed descriptor %s (validation / %s)", async (kind, code) => {
    const error = await rejection(new EnvPackRegistry().resolve(kind));
    expect(error.kind).toBe("validation");
    expect(error.details?.code).toBe(code);
  });

  it("lists handlers sorted by path with their source", () => {
    const registry = createDefaultRegistry({ plugins: [] });
    expect(
      registry.list().map((info) => [info.descriptor_path, info.slot, info.supported_versions, info.source]),
    ).toEqual([
      ["greentic.deployer.local-process", "deployer", "^0.1.0", "builtin"],
      ["greentic.revocation.local", "revocation", "^0.1.0", "builtin"],
      ["greentic.secrets.dev-store", "secrets", "^0.1.0", "builtin"],
      ["greentic.sessions.in-memory", "sessions", "^0.1.0", "builtin"],
      ["greentic.state.in-memory", "state", "^0.1.0", "builtin"],
      ["greentic.telemetry.stdout", "telemetry", "^0.1.0", "builtin"],
    ]);
  });
});

describe("built-in table", () => {
  it("matches LOCAL_DEFAULT_BINDINGS (builtin_table_matches_default_bindings)", async () => {
    const registry = createDefaultRegistry({ plugins: [] });
    expect(LOCAL_DEFAULT_BINDINGS).toHaveLength(6);
    for (const binding of LOCAL_DEFAULT_BINDINGS) {
      const resolved = await registry.resolveForSlot(binding.slot, binding.kind);
      expect(resolved.handler.slot).toBe(binding.slot);
    }
    expect(registry.list()).toHaveLength(LOCAL_DEFAULT_BINDINGS.length);
  });

  it("is honest that in-memory sessions and state do not outlive the process", () => {
    const registry = createDefaultRegistry({ plugins: [] });
    for (const info of registry.list().filter((i) => i.descriptor_path.endsWith("in-memory"))) {
      expect(info.description).toMatch(/nothing outlives it/);
    }
  });
});

describe("answersJsonSchema", () => {
  it("exports the input side of the answers schema (defaults optional)", () => {
    const handler = {
      ...secretsHandler(),
      answersSchema: z.strictObject({ url: z.string(), ttl: z.number().default(60) }),
    };
    const schema = answersJsonSchema(handler)!;
    expect(schema.required).toEqual(["url"]);
    expect(answersJsonSchema(secretsHandler())).toBeUndefined();
    const local = answersJsonSchema(builtinHandlers()[0]!)!;
    expect(Object.keys(local.properties as object)).toEqual([
      "warm_timeout_seconds",
      "stop_grace_seconds",
      "router_listen",
    ]);
  });
});
