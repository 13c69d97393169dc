import { execFileSync } from "node:child_process";
import { mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { buildBundle, inspectBundle, stageBundle, verifyBundle } from "@greentic/bundle";
import { generateLeakySources } from "../../../fixtures/hostile/generate.ts";
import { HELLO, rejectsWith, testdir } from "./helpers.ts";

const HELLO_DIGEST = "sha256:3d4925e36309043ef540b51e5b9f7dde80990971f8695a95b858a234da72ca55";

async function hello(dir: string): Promise<string> {
  return (
    await buildBundle({ sourceDir: HELLO, outFile: join(dir, "hello.gtbundle"), bundleId: "hello", version: "1.0.0" })
  ).outFile;
}

/** Builds a squashfs image by hand from `tree` (no manifest checks), as an attacker could. */
function rawImage(tree: string, out: string): string {
  execFileSync("mksquashfs", [tree, out, "-noappend", "-quiet", "-no-progress", "-all-root"]);
  return out;
}

/** hello's content with a manifest taken from hello but the given edits applied to the tree. */
async function tampered(
  dir: string,
  edit: (tree: string, manifest: Record<string, unknown>) => Promise<void>,
): Promise<string> {
  const tree = join(dir, "tree");
  execFileSync("unsquashfs", ["-d", tree, "-n", await hello(dir)]);
  const manifest = JSON.parse(await readFile(join(tree, "bundle-manifest.json"), "utf8"));
  await edit(tree, manifest);
  await writeFile(join(tree, "bundle-manifest.json"), JSON.stringify(manifest));
  return rawImage(tree, join(dir, "tampered.gtbundle"));
}

describe("inspectBundle", () => {
  test("lists entries and reads the manifest without extracting", async () => {
    const dir = await testdir();
    const info = await inspectBundle(await hello(dir));
    expect(info.imageDigest).toBe(HELLO_DIGEST);
    expect(info.imageSize).toBe(4096);
    expect(info.manifest.bundle_id).toBe("hello");
    expect(info.entries.map((e) => e.path)).toContain("bundle-manifest.json");
    expect(info.totalBytes).toBe(
      info.manifest.entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0) +
        info.entries.find((e) => e.path === "bundle-manifest.json")!.size,
    );
    expect(await readdir(dir)).toEqual(["hello.gtbundle"]);
    // JSON-serialisable for `op bundles inspect --json`.
    expect(JSON.parse(JSON.stringify(info))).toEqual(info);
  });

  test("a missing file is not-found, a non-squashfs file is an io error", async () => {
    const dir = await testdir();
    expect((await rejectsWith(inspectBundle(join(dir, "nope.gtbundle")))).kind).toBe("not-found");
    await writeFile(join(dir, "junk.gtbundle"), "not squashfs");
    const junk = await rejectsWith(inspectBundle(join(dir, "junk.gtbundle")));
    expect(junk.kind).toBe("io");
    expect(junk.details?.code).toBe("unreadable-archive");
  });

  test("an image without a manifest", async () => {
    const dir = await testdir();
    await mkdir(join(dir, "t"));
    await writeFile(join(dir, "t/index.html"), "hi");
    const error = await rejectsWith(inspectBundle(rawImage(join(dir, "t"), join(dir, "x.gtbundle"))));
    expect(error.details?.code).toBe("manifest-missing");
  });

  test("a manifest with the wrong schema", async () => {
    const dir = await testdir();
    const image = await tampered(dir, async (_t, m) => {
      m.schema = "greentic.bundle-manifest.v9";
    });
    const error = await rejectsWith(inspectBundle(image));
    expect(error.kind).toBe("validation");
    expect(error.details?.code).toBe("manifest-invalid");
    expect(error.issues[0]).toMatchObject({ path: "schema", code: "schema-mismatch" });
  });
});

describe("verifyBundle", () => {
  test("a good bundle verifies, with and without the expected digest", async () => {
    const file = await hello(await testdir());
    const result = await verifyBundle(file, { expectedDigest: HELLO_DIGEST });
    expect(result).toMatchObject({ ok: true, imageDigest: HELLO_DIGEST, problems: [] });
    expect(result.contentDigest).toBe(result.manifest?.content_digest);
  });

  test("a digest mismatch is reported as data", async () => {
    const file = await hello(await testdir());
    const result = await verifyBundle(file, { expectedDigest: `sha256:${"0".repeat(64)}` });
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.code)).toEqual(["digest-mismatch"]);
  });

  test("a malformed expected digest is an invalid argument", async () => {
    const file = await hello(await testdir());
    expect((await rejectsWith(verifyBundle(file, { expectedDigest: "abc" }))).kind).toBe("invalid-argument");
  });

  test("content changed after the manifest was written", async () => {
    const image = await tampered(await testdir(), async (tree) => {
      await writeFile(join(tree, "index.html"), "<h1>defaced</h1>");
    });
    const result = await verifyBundle(image);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.code)).toEqual(["content-digest-mismatch", "entries-mismatch"]);
    expect(result.problems[1]!.path).toBe("index.html");
  });

  test("a hostile image is reported with its rejection code", async () => {
    const image = await tampered(await testdir(), async (tree) => {
      execFileSync("ln", ["-s", "/etc/passwd", join(tree, "passwd")]);
    });
    const result = await verifyBundle(image);
    expect(result.problems).toEqual([expect.objectContaining({ code: "symlink-escape", path: "passwd" })]);
  });
});

describe("stageBundle", () => {
  test("copies first, hashes the copy, extracts read-only content", async () => {
    const dir = await testdir();
    const file = await hello(dir);
    const rev = join(dir, "revisions/01J0000000000000000000000");
    const staged = await stageBundle(file, rev);
    expect(staged.digest).toBe(HELLO_DIGEST);
    expect(staged.imagePath).toBe(join(rev, "bundle.gtbundle"));
    expect(staged.bundleDir).toBe(join(rev, "bundle"));
    expect(staged.manifest.bundle_id).toBe("hello");
    expect((await readdir(rev)).sort()).toEqual(["bundle", "bundle.gtbundle"]);
    expect(await readFile(join(staged.bundleDir, "index.html"), "utf8")).toContain("Hello from Greentic");
    expect((await stat(join(staged.bundleDir, "index.html"))).mode & 0o777).toBe(0o444);
    expect((await stat(join(staged.bundleDir, "assets/img"))).mode & 0o777).toBe(0o555);
    expect((await stat(staged.bundleDir)).mode & 0o777).toBe(0o555);
    expect((await stat(staged.imagePath)).mode & 0o777).toBe(0o444);
    // The input changing afterwards does not affect what was staged.
    await writeFile(file, "replaced");
    expect((await verifyBundle(staged.imagePath, { expectedDigest: staged.digest })).ok).toBe(true);
  });

  test("an expected digest that does not match is an integrity error and leaves nothing", async () => {
    const dir = await testdir();
    const rev = join(dir, "rev");
    const error = await rejectsWith(stageBundle(await hello(dir), rev, { expectedDigest: `sha256:${"1".repeat(64)}` }));
    expect(error.kind).toBe("integrity");
    expect(error.details?.code).toBe("digest-mismatch");
    expect(await readdir(rev)).toEqual([]);
  });

  test("a revision dir that already holds a bundle is a conflict", async () => {
    const dir = await testdir();
    const file = await hello(dir);
    await stageBundle(file, join(dir, "rev"));
    expect((await rejectsWith(stageBundle(file, join(dir, "rev")))).kind).toBe("conflict");
  });

  test("content that does not match its manifest is an integrity error", async () => {
    const dir = await testdir();
    const image = await tampered(dir, async (tree) => {
      await writeFile(join(tree, "app.js"), "alert('swapped')");
    });
    const error = await rejectsWith(stageBundle(image, join(dir, "rev")));
    expect(error.kind).toBe("integrity");
    expect(error.details?.code).toBe("content-digest-mismatch");
    expect(await readdir(join(dir, "rev"))).toEqual([]);
  });

  test("a missing manifest is refused", async () => {
    const dir = await testdir();
    await mkdir(join(dir, "t"));
    await writeFile(join(dir, "t/index.html"), "hi");
    const error = await rejectsWith(stageBundle(rawImage(join(dir, "t"), join(dir, "x.gtbundle")), join(dir, "rev")));
    expect(error.details?.code).toBe("manifest-missing");
  });

  test("a leaking bundle is refused unless allowLeaks, and the secret is never echoed", async () => {
    const dir = await testdir();
    const sources = generateLeakySources(join(dir, "src"));
    const built = await buildBundle({
      sourceDir: sources.secret_values_populated!,
      outFile: join(dir, "leaky.gtbundle"),
      bundleId: "leaky",
      version: "1.0.0",
      allowLeaks: true,
    });
    // The setup answers keep a populated secret, and its value is a secret setting ("token": ...).
    expect(built.findings.map((f) => [f.kind, f.rule])).toEqual([
      ["secret_values_populated", undefined],
      ["token", "config-secret"],
    ]);
    const error = await rejectsWith(stageBundle(built.outFile, join(dir, "rev")));
    expect(error.kind).toBe("validation");
    expect(error.details?.code).toBe("leak-detected");
    expect(JSON.stringify(error.toJSON())).not.toContain("s3cr3t-value");
    expect(await readdir(join(dir, "rev"))).toEqual([]);
    const staged = await stageBundle(built.outFile, join(dir, "rev"), { allowLeaks: true });
    expect(staged.findings.map((f) => [f.kind, f.path])).toEqual([
      ["secret_values_populated", "state/setup/messaging.json"],
      ["token", "state/setup/messaging.json"],
    ]);
  });

  test("limits apply to staging too", async () => {
    const dir = await testdir();
    const error = await rejectsWith(stageBundle(await hello(dir), join(dir, "rev"), { limits: { maxEntries: 3 } }));
    expect(error.details?.code).toBe("too-many-entries");
  });

  test("a missing input is not-found and creates nothing", async () => {
    const dir = await testdir();
    const error = await rejectsWith(stageBundle(join(dir, "nope.gtbundle"), join(dir, "rev")));
    expect(error.kind).toBe("not-found");
    expect(await readdir(dir)).toEqual([]);
  });
});
