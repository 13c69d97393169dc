import { describe, expect, it } from "vitest";
import { CONTENT_INDEX_SCHEMA, type ContentIndex } from "./content-index.js";
import { etagMatches, resolveRequestPath } from "./static-handler.js";

const entry = (sha256: string) => ({ size: 1, sha256, content_type: "text/plain; charset=utf-8" });
const index: ContentIndex = {
  schema: CONTENT_INDEX_SCHEMA,
  bundle_dir: "/b",
  manifest_digest: null,
  built_at: "2026-01-01T00:00:00Z",
  index_document: "index.html",
  files: {
    "index.html": entry("a"),
    "docs/index.html": entry("b"),
    "docs/a b.txt": entry("c"),
    "empty/x.txt": entry("d"),
  },
  directories: ["docs", "empty"],
};

describe("resolveRequestPath", () => {
  it("serves files and index documents", () => {
    expect(resolveRequestPath("/", index)).toMatchObject({ kind: "file", path: "index.html" });
    expect(resolveRequestPath("/?q=1", index)).toMatchObject({ kind: "file", path: "index.html" });
    expect(resolveRequestPath("/docs/", index)).toMatchObject({ kind: "file", path: "docs/index.html" });
    expect(resolveRequestPath("/docs/a%20b.txt", index)).toMatchObject({ kind: "file", path: "docs/a b.txt" });
    expect(resolveRequestPath("//docs//a%20b.txt", index)).toMatchObject({ kind: "file", path: "docs/a b.txt" });
  });

  it("redirects a directory without its slash, keeping the query and never off-site", () => {
    expect(resolveRequestPath("/docs?x=1", index)).toEqual({ kind: "redirect", location: "/docs/?x=1" });
    expect(resolveRequestPath("//docs", index)).toEqual({ kind: "redirect", location: "/docs/" });
  });

  it("gives 404 for unknown paths, a file with a trailing slash, and a directory without an index", () => {
    expect(resolveRequestPath("/nope.html", index)).toEqual({ kind: "not-found" });
    expect(resolveRequestPath("/index.html/", index)).toEqual({ kind: "not-found" });
    expect(resolveRequestPath("/empty/", index)).toEqual({ kind: "not-found" });
    expect(resolveRequestPath("/bundle-manifest.json", index)).toEqual({ kind: "not-found" });
  });

  it.each([
    ["/../etc/passwd", "path traversal"],
    ["/docs/../../etc/passwd", "path traversal"],
    ["/%2e%2e/etc/passwd", "path traversal"],
    ["/%2E%2E%2Fetc%2Fpasswd", "path traversal"],
    ["/docs/%2e/index.html", "path traversal"],
    ["/..%5c..%5cetc", "path traversal"],
    ["/index.html%00.txt", "NUL byte in path"],
    ["/%zz", "malformed percent-encoding"],
    ["*", "request target is not an absolute path"],
    ["http://evil/", "request target is not an absolute path"],
  ])("refuses %s", (url, reason) => {
    expect(resolveRequestPath(url, index)).toEqual({ kind: "bad-request", reason });
  });
});

describe("etagMatches", () => {
  it("compares weakly and understands lists and *", () => {
    expect(etagMatches('"a"', '"a"')).toBe(true);
    expect(etagMatches('W/"a"', '"a"')).toBe(true);
    expect(etagMatches('"x", "a"', '"a"')).toBe(true);
    expect(etagMatches("*", '"a"')).toBe(true);
    expect(etagMatches('"b"', '"a"')).toBe(false);
    expect(etagMatches(undefined, '"a"')).toBe(false);
  });
});
