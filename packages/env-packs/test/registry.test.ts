import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  EnvPackRegistry,
  answersJsonSchema,
  createDefaultRegistry,
  type Deployer,
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
    const bare: EnvPackHandler = {
      slot: "deployer",
      descriptorPath: "acme.deployer.bare",
      supportedVersions: "^1.0.0",
      description: "test",
      deployer: {} as Deployer,
    };
    const error = await rejection(() => new EnvPackRegistry().register(bare));
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
    ["greentic.secrets.dev-store@0.1.0@1", "invalid-semver"],
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
      ["greentic.revocation.local", "revocation", "^0.1.0", "builtin"],
      ["greentic.secrets.dev-store", "secrets", "^0.1.0", "builtin"],
      ["greentic.sessions.in-memory", "sessions", "^0.1.0", "builtin"],
      ["greentic.state.in-memory", "state", "^0.1.0", "builtin"],
      ["greentic.telemetry.stdout", "telemetry", "^0.1.0", "builtin"],
    ]);
  });
});

describe("registerLazy", () => {
  it("imports the handler on first resolve, once, and lists it from then on", async () => {
    const registry = new EnvPackRegistry();
    let loads = 0;
    registry.registerLazy("acme.secrets.vault", {
      package: "@acme/vault",
      load: async () => {
        loads += 1;
        return secretsHandler();
      },
    });
    expect(registry.has("acme.secrets.vault")).toBe(false);
    expect(registry.list()).toEqual([]);
    const [a, b] = await Promise.all([
      registry.resolve("acme.secrets.vault@1.0.0"),
      registry.resolve("acme.secrets.vault@1.2.0"),
    ]);
    expect(a.handler).toBe(b.handler);
    expect(loads).toBe(1);
    expect(registry.list().map((info) => [info.descriptor_path, info.source])).toEqual([
      ["acme.secrets.vault", "builtin"],
    ]);
  });

  it("names the package when the import fails (internal / plugin-broken) and retries on the next resolve", async () => {
    const registry = new EnvPackRegistry();
    let fail = true;
    registry.registerLazy("acme.secrets.vault", {
      package: "@acme/vault",
      load: async () => {
        if (fail) throw new Error("Cannot find module '@acme/vault'");
        return secretsHandler();
      },
    });
    const error = await rejection(registry.resolve("acme.secrets.vault@1.0.0"));
    expect(error.kind).toBe("internal");
    expect(error.details).toMatchObject({ code: "plugin-broken", package: "@acme/vault" });
    expect(error.message).toBe(
      "built-in env-pack \"acme.secrets.vault\" could not be loaded from @acme/vault: Cannot find module '@acme/vault'",
    );
    fail = false;
    expect((await registry.resolve("acme.secrets.vault@1.0.0")).handler.slot).toBe("secrets");
  });

  it("leaves a handler registered first in place", async () => {
    const registry = new EnvPackRegistry();
    const first = secretsHandler();
    registry.register(first, { source: "acme-plugin" });
    registry.registerLazy("acme.secrets.vault", { package: "@acme/vault", load: async () => secretsHandler() });
    expect((await registry.resolve("acme.secrets.vault@1.0.0")).handler).toBe(first);
  });
});

describe("built-in table", () => {
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
  });
});
