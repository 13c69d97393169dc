import { describe, expect, it } from "vitest";
import { validateManifest } from "./manifest.js";

const HEX = "a".repeat(64);
const good = () => ({
  schema: "greentic.bundle-manifest.v1",
  bundle_id: "hello",
  version: "1.2.3",
  created_at: "2026-01-01T00:00:00Z",
  content_digest: `sha256:${HEX}`,
  entries: [
    { path: "index.html", type: "file", size: 2, mode: "0644", sha256: HEX },
    { path: "d", type: "dir", size: 0, mode: "0755" },
    { path: "l", type: "symlink", size: 10, mode: "0777", target: "index.html" },
  ],
  entry: { kind: "static", index: "index.html" },
});

// The manifest goes through deploy-spec's BundleManifestDocumentSchema and its one issues path:
// each problem is an issue with the field's path and a kebab-case code, never a raw zod code.
describe("validateManifest", () => {
  it("accepts a sound manifest", () => {
    expect(validateManifest(good())).toEqual([]);
  });

  it.each<[string, (m: Record<string, any>) => void, string, string]>([
    ["wrong schema", (m) => (m.schema = "greentic.bundle-manifest.v9"), "schema", "schema-mismatch"],
    ["unknown field", (m) => (m.extra = 1), "extra", "unknown-field"],
    ["bad bundle id", (m) => (m.bundle_id = "../x"), "bundle_id", "invalid-bundle-id"],
    ["bad version", (m) => (m.version = "1.2"), "version", "invalid-semver"],
    ["bad timestamp", (m) => (m.created_at = "yesterday"), "created_at", "invalid-timestamp"],
    ["bad digest", (m) => (m.content_digest = "md5:00"), "content_digest", "invalid-digest"],
    ["missing entries", (m) => delete m.entries, "entries", "missing-field"],
    ["empty path", (m) => (m.entries[0].path = ""), "entries.0.path", "invalid-path"],
    ["unknown entry type", (m) => (m.entries[1].type = "fifo"), "entries.1.type", "invalid-value"],
    ["negative size", (m) => (m.entries[0].size = -1), "entries.0.size", "too-small"],
    ["bad mode", (m) => (m.entries[1].mode = "755"), "entries.1.mode", "invalid-mode"],
    ["file without digest", (m) => delete m.entries[0].sha256, "entries.0.sha256", "invalid-digest"],
    ["symlink without target", (m) => delete m.entries[2].target, "entries.2.target", "invalid-target"],
    ["bad entry point", (m) => (m.entry = { kind: "spa", index: "i" }), "entry.kind", "invalid-value"],
  ])("%s", (_name, spoil, path, code) => {
    const m = good() as Record<string, any>;
    spoil(m);
    const issues = validateManifest(m);
    expect(issues[0]).toMatchObject({ path, code });
  });

  it("a non-object is one invalid-type issue at the root", () => {
    expect(validateManifest([])).toEqual([
      { path: "", code: "invalid-type", message: "expected object, got array []" },
    ]);
  });
});
