import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { buildBundle, contentDigest, inspectBundle } from "@greentic/bundle";
import { HELLO, HELLO_V2, rejectsWith, testdir } from "./helpers.ts";

// Pinned: any change to the image layout, flags or manifest shape must be deliberate.
const HELLO_DIGEST = "sha256:3d4925e36309043ef540b51e5b9f7dde80990971f8695a95b858a234da72ca55";
const HELLO_CONTENT = "sha256:fd4fd6af0e5c302754fab056ac5f2afc38ab0e28cb1bab58790678ef15f4ff78";

const savedEpoch = process.env.SOURCE_DATE_EPOCH;
afterEach(() => {
  if (savedEpoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = savedEpoch;
});

describe("buildBundle is deterministic", () => {
  test("the hello fixture builds to a pinned digest, twice", async () => {
    delete process.env.SOURCE_DATE_EPOCH;
    const dir = await testdir();
    const a = await buildBundle({
      sourceDir: HELLO,
      outFile: join(dir, "a.gtbundle"),
      bundleId: "hello",
      version: "1.0.0",
    });
    const b = await buildBundle({
      sourceDir: HELLO,
      outFile: join(dir, "b.gtbundle"),
      bundleId: "hello",
      version: "1.0.0",
    });
    expect(a.digest).toBe(HELLO_DIGEST);
    expect(b.digest).toBe(HELLO_DIGEST);
    expect(Buffer.compare(await readFile(a.outFile), await readFile(b.outFile))).toBe(0);
    expect(a.manifest.content_digest).toBe(HELLO_CONTENT);
    expect(contentDigest(a.manifest.entries)).toBe(HELLO_CONTENT);
    expect(a.manifest.created_at).toBe("1970-01-01T00:00:00Z");
    expect(a.manifest.entry).toEqual({ kind: "static", index: "index.html" });
    expect(a.manifest.entries.map((e) => e.path)).toEqual([
      "app.js",
      "assets",
      "assets/about.txt",
      "assets/img",
      "assets/img/logo.svg",
      "index.html",
      "style.css",
    ]);
    expect(a.findings).toEqual([]);
  });

  test("creation order, umask-dependent modes and mtimes of the source do not matter", async () => {
    const dir = await testdir();
    const copy = join(dir, "src");
    // Re-create the tree in reverse order with group-writable modes and fresh mtimes.
    await mkdir(join(copy, "assets/img"), { recursive: true, mode: 0o775 });
    for (const f of ["style.css", "index.html", "assets/img/logo.svg", "assets/about.txt", "app.js"]) {
      await writeFile(join(copy, f), await readFile(join(HELLO, f)), { mode: 0o664 });
    }
    const r = await buildBundle({
      sourceDir: copy,
      outFile: join(dir, "c.gtbundle"),
      bundleId: "hello",
      version: "1.0.0",
    });
    expect(r.digest).toBe(HELLO_DIGEST);
  });

  test("SOURCE_DATE_EPOCH sets the default time; createdAt overrides it", async () => {
    const dir = await testdir();
    process.env.SOURCE_DATE_EPOCH = "1747742400";
    const env = await buildBundle({
      sourceDir: HELLO,
      outFile: join(dir, "e.gtbundle"),
      bundleId: "hello",
      version: "1.0.0",
    });
    expect(env.manifest.created_at).toBe("2025-05-20T12:00:00Z");
    const explicit = await buildBundle({
      sourceDir: HELLO,
      outFile: join(dir, "f.gtbundle"),
      bundleId: "hello",
      version: "1.0.0",
      createdAt: "2025-05-20T14:00:00+02:00",
    });
    expect(explicit.manifest.created_at).toBe("2025-05-20T12:00:00Z");
    expect(explicit.digest).toBe(env.digest);
    expect(env.digest).not.toBe(HELLO_DIGEST);
    expect(execFileSync("unsquashfs", ["-mkfs-time", env.outFile]).toString().trim()).toBe("1747742400");
  });

  test("hello-v2 differs from hello in content and image", async () => {
    const dir = await testdir();
    const v2 = await buildBundle({
      sourceDir: HELLO_V2,
      outFile: join(dir, "v2.gtbundle"),
      bundleId: "hello",
      version: "2.0.0",
    });
    expect(v2.digest).not.toBe(HELLO_DIGEST);
    expect(v2.manifest.content_digest).not.toBe(HELLO_CONTENT);
    const inspected = await inspectBundle(v2.outFile);
    expect(inspected.manifest.version).toBe("2.0.0");
  });

  test("the output replaces an existing file atomically and leaves no temp files", async () => {
    const dir = await testdir();
    const out = join(dir, "out.gtbundle");
    await writeFile(out, "old");
    await buildBundle({ sourceDir: HELLO, outFile: out, bundleId: "hello", version: "1.0.0" });
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(dir)).toEqual(["out.gtbundle"]);
  });
});

describe("buildBundle refuses bad input", () => {
  const base = { sourceDir: HELLO, bundleId: "hello", version: "1.0.0" };

  test.each([
    ["bundleId", { bundleId: "no spaces" }],
    ["bundleId", { bundleId: "" }],
    ["version", { version: "1.0" }],
    ["version", { version: "v1.0.0" }],
    ["createdAt", { createdAt: "yesterday" }],
    ["createdAt", { createdAt: "1969-12-31T23:59:59Z" }],
  ])("invalid %s %j", async (path, override) => {
    const dir = await testdir();
    const error = await rejectsWith(buildBundle({ ...base, outFile: join(dir, "x.gtbundle"), ...override }));
    expect(error.kind).toBe("invalid-argument");
    expect(error.path).toBe(path);
    expect(error.hint).toBeTruthy();
  });

  test("a malformed SOURCE_DATE_EPOCH", async () => {
    process.env.SOURCE_DATE_EPOCH = "soon";
    const error = await rejectsWith(buildBundle({ ...base, outFile: join(await testdir(), "x.gtbundle") }));
    expect(error.kind).toBe("invalid-argument");
    expect(error.path).toBe("SOURCE_DATE_EPOCH");
  });

  test("a missing source directory", async () => {
    const dir = await testdir();
    const error = await rejectsWith(
      buildBundle({ ...base, sourceDir: join(dir, "nope"), outFile: join(dir, "x.gtbundle") }),
    );
    expect(error.kind).toBe("not-found");
  });

  test("a source that already holds bundle-manifest.json", async () => {
    const dir = await testdir();
    await cp(HELLO, join(dir, "src"), { recursive: true });
    await writeFile(join(dir, "src/bundle-manifest.json"), "{}");
    const error = await rejectsWith(
      buildBundle({ ...base, sourceDir: join(dir, "src"), outFile: join(dir, "x.gtbundle") }),
    );
    expect(error.kind).toBe("invalid-argument");
    expect(error.message).toContain("bundle-manifest.json");
  });

  test("a symlink leaving the source", async () => {
    const dir = await testdir();
    await cp(HELLO, join(dir, "src"), { recursive: true });
    await symlink("../../etc/passwd", join(dir, "src/assets/passwd"));
    const error = await rejectsWith(
      buildBundle({ ...base, sourceDir: join(dir, "src"), outFile: join(dir, "x.gtbundle") }),
    );
    expect(error.kind).toBe("validation");
    expect(error.details?.code).toBe("symlink-escape");
    expect(error.path).toBe("assets/passwd");
  });

  test("a symlink inside the source is kept", async () => {
    const dir = await testdir();
    await cp(HELLO, join(dir, "src"), { recursive: true });
    await symlink("../index.html", join(dir, "src/assets/home.html"));
    const r = await buildBundle({ ...base, sourceDir: join(dir, "src"), outFile: join(dir, "x.gtbundle") });
    expect(r.manifest.entries.find((e) => e.path === "assets/home.html")).toEqual({
      path: "assets/home.html",
      type: "symlink",
      size: 13,
      mode: "0777",
      target: "../index.html",
    });
  });

  test("a FIFO in the source", async () => {
    const dir = await testdir();
    await cp(HELLO, join(dir, "src"), { recursive: true });
    execFileSync("mkfifo", [join(dir, "src/pipe")]);
    const error = await rejectsWith(
      buildBundle({ ...base, sourceDir: join(dir, "src"), outFile: join(dir, "x.gtbundle") }),
    );
    expect(error.details?.code).toBe("special-file");
    expect(error.path).toBe("pipe");
  });
});
