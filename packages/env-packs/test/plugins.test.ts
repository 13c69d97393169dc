import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import { createDefaultRegistry, pluginsFromEnv } from "../src/index.js";
import { testDir } from "./helpers.js";

async function rejection(promise: Promise<unknown>): Promise<GreenticError> {
  try {
    await promise;
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

const HANDLER = `{
  slot: "telemetry",
  descriptorPath: "acme.telemetry.otlp",
  supportedVersions: "^1.0.0",
  description: "test plugin",
  telemetry: { emit: async () => {} },
}`;

/** Writes `node_modules/<name>` with an ESM entry into `root`. */
async function installPlugin(root: string, name: string, source: string): Promise<void> {
  const dir = join(root, "node_modules", name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name, type: "module", exports: { ".": { import: "./index.js" } } }),
  );
  await writeFile(join(dir, "index.js"), source);
}

describe("plugins", () => {
  it("reads GREENTIC_ENV_PACK_PLUGINS", () => {
    expect(pluginsFromEnv({ GREENTIC_ENV_PACK_PLUGINS: " a, ,@scope/b ," })).toEqual(["a", "@scope/b"]);
    expect(pluginsFromEnv({})).toEqual([]);
  });

  it("loads a plugin on demand (envPackHandlers) and only when a descriptor is not built in", async () => {
    const root = await testDir();
    await installPlugin(
      root,
      "acme-otlp",
      `globalThis.__acmeLoads = (globalThis.__acmeLoads ?? 0) + 1;\nexport const envPackHandlers = [${HANDLER}];\n`,
    );
    const registry = createDefaultRegistry({ plugins: ["acme-otlp"], resolveFrom: root });
    await registry.resolve("greentic.secrets.dev-store@0.1.0");
    expect((globalThis as { __acmeLoads?: number }).__acmeLoads).toBeUndefined();
    const { handler } = await registry.resolveForSlot("telemetry", "acme.telemetry.otlp@1.2.0");
    expect(handler.description).toBe("test plugin");
    await registry.resolve("acme.telemetry.otlp@1.0.0");
    expect((globalThis as { __acmeLoads?: number }).__acmeLoads).toBe(1);
    expect(registry.list().find((info) => info.descriptor_path === "acme.telemetry.otlp")?.source).toBe("acme-otlp");
  });

  it("loads a plugin exporting register(registry), scoped packages included", async () => {
    const root = await testDir();
    await installPlugin(root, "@acme/packs", `export function register(registry) { registry.register(${HANDLER}); }\n`);
    const registry = createDefaultRegistry({ plugins: ["@acme/packs"], resolveFrom: root });
    expect((await registry.resolve("acme.telemetry.otlp@1.0.0")).handler.slot).toBe("telemetry");
    expect(registry.list().find((info) => info.descriptor_path === "acme.telemetry.otlp")?.source).toBe("@acme/packs");
  });

  it("names a missing plugin (not-found / plugin-missing) and keeps built-ins working", async () => {
    const root = await testDir();
    const registry = createDefaultRegistry({ plugins: ["no-such-plugin"], resolveFrom: root });
    expect((await registry.resolve("greentic.secrets.dev-store@0.1.0")).handler.slot).toBe("secrets");
    const error = await rejection(registry.resolve("acme.telemetry.otlp@1.0.0"));
    expect(error.kind).toBe("not-found");
    expect(error.details).toMatchObject({ code: "plugin-missing", package: "no-such-plugin" });
    expect(error.message).toContain("no-such-plugin");
    const [result] = await registry.loadPlugins();
    expect(result).toMatchObject({ package: "no-such-plugin", ok: false });
  });

  it.each([
    ["throws on import", "throw new Error('kaboom at import');\n", "kaboom at import"],
    ["exports nothing usable", "export const nothing = 1;\n", "neither"],
    [
      "registers a duplicate of a built-in",
      `export const envPackHandlers = [{ ...${HANDLER}, descriptorPath: "greentic.telemetry.stdout" }];\n`,
      "already registered",
    ],
  ])("names a broken plugin that %s (plugin-broken)", async (_what, source, text) => {
    const root = await testDir();
    await installPlugin(root, "broken-plugin", source);
    const registry = createDefaultRegistry({ plugins: ["broken-plugin"], resolveFrom: root });
    const error = await rejection(registry.resolve("acme.telemetry.otlp@1.0.0"));
    expect(error.details).toMatchObject({ package: "broken-plugin" });
    expect(error.message).toContain("broken-plugin");
    expect(error.message).toContain(text);
    expect((await registry.resolve("greentic.telemetry.stdout@0.1.0")).handler.description).toMatch(/standard output/);
  });

  it("still reports unknown-kind when every plugin loaded but none serves the path", async () => {
    const root = await testDir();
    await installPlugin(root, "acme-otlp", `export const envPackHandlers = [${HANDLER}];\n`);
    const registry = createDefaultRegistry({ plugins: ["acme-otlp"], resolveFrom: root });
    const error = await rejection(registry.resolve("acme.secrets.other@1.0.0"));
    expect(error.details?.code).toBe("unknown-kind");
  });
});
