import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildBundle } from "@greentic/bundle";
import { isGreenticError, type GreenticError } from "@greentic/deploy-spec";
import { describe, expect, it } from "vitest";
import type { RevisionRef } from "@greentic/env-packs";
import { LocalProcessDeployer } from "../src/index.js";
import { contextFor, testDir } from "./helpers.js";

// local-process `stage` failures leave nothing behind, and `unstage` forgets a copy without a
// trace. No runtime is started here: staging only copies, hashes and extracts.

const repo = resolve(import.meta.dirname, "../../..");
const rev = (revision_id: string): RevisionRef => ({
  revision_id,
  deployment_id: "01JDEPLOYMENTAAAAAAAAAAAAA",
  bundle_id: "hello",
});

async function rejection(fn: () => Promise<unknown>): Promise<GreenticError> {
  try {
    await fn();
  } catch (error) {
    if (isGreenticError(error)) return error;
    throw error;
  }
  throw new Error("expected a GreenticError");
}

/** A squashfs image with content but no bundle-manifest.json. */
function imageWithoutManifest(dir: string): string {
  const tree = join(dir, "tree");
  mkdirSync(tree, { recursive: true });
  writeFileSync(join(tree, "index.html"), "<p>hi</p>\n");
  const image = join(dir, "no-manifest.gtbundle");
  execFileSync("mksquashfs", [tree, image, "-noappend", "-quiet", "-no-progress", "-all-root"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return image;
}

describe("local-process stage failures and unstage", () => {
  it("a file that is not a squashfs image is refused (io) and its revision directory removed", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const notBundle = join(root, "notes.gtbundle");
    await writeFile(notBundle, "just text\n");
    const err = await rejection(() =>
      new LocalProcessDeployer().stage(ctx, { revision: rev("01JREVAAAAAAAAAAAAAAAAAAAA"), bundlePath: notBundle }),
    );
    expect(err.kind).toBe("io");
    expect(err.details).toMatchObject({ code: "unreadable-archive" });
    expect(await readdir(join(root, "local", "revisions"))).toEqual([]);
  });

  it("a squashfs image without a manifest is refused (validation) and its revision directory removed", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const err = await rejection(() =>
      new LocalProcessDeployer().stage(ctx, {
        revision: rev("01JREVAAAAAAAAAAAAAAAAAAAA"),
        bundlePath: imageWithoutManifest(root),
      }),
    );
    expect(err.kind).toBe("validation");
    expect(err.details).toMatchObject({ code: "manifest-missing" });
    expect(await readdir(join(root, "local", "revisions"))).toEqual([]);
  });

  it("a half-staged directory (no stage.json) is replaced, and removed when the new stage fails too", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const dir = join(root, "local", "revisions", "01JREVAAAAAAAAAAAAAAAAAAAA");
    await mkdir(join(dir, "bundle"), { recursive: true });
    await writeFile(join(dir, "bundle.gtbundle"), "partial");
    await rejection(() =>
      new LocalProcessDeployer().stage(ctx, {
        revision: rev("01JREVAAAAAAAAAAAAAAAAAAAA"),
        bundlePath: imageWithoutManifest(root),
      }),
    );
    expect(existsSync(dir)).toBe(false);
  });

  it("a revision staged before is never removed by a failing stage of the same id; unstage forgets a copy without an archived record", async () => {
    const root = await testDir();
    const ctx = contextFor(root);
    const deployer = new LocalProcessDeployer();
    const bundle = join(root, "hello.gtbundle");
    await buildBundle({
      sourceDir: join(repo, "fixtures/bundles/hello"),
      outFile: bundle,
      bundleId: "hello",
      version: "1.0.0",
    });
    const staged = await deployer.stage(ctx, { revision: rev("01JREVAAAAAAAAAAAAAAAAAAAA"), bundlePath: bundle });
    const record = await readFile(join(staged.location!, "stage.json"), "utf8");

    const other = imageWithoutManifest(root);
    const conflict = await rejection(() =>
      deployer.stage(ctx, { revision: rev("01JREVAAAAAAAAAAAAAAAAAAAA"), bundlePath: other }),
    );
    expect(conflict.kind).toBe("conflict");
    expect(await readFile(join(staged.location!, "stage.json"), "utf8")).toBe(record);
    expect(existsSync(join(staged.location!, "bundle", "bundle-manifest.json"))).toBe(true);

    await deployer.unstage(ctx, rev("01JREVAAAAAAAAAAAAAAAAAAAA"));
    expect(existsSync(staged.location!)).toBe(false);
    expect(existsSync(join(root, "local", "archived"))).toBe(false);
    expect(await deployer.status(ctx)).toEqual([]);
    // Unknown (or already unstaged): nothing to do.
    await deployer.unstage(ctx, rev("01JREVBBBBBBBBBBBBBBBBBBBB"));
  });
});
