import { cp, mkdir, readdir, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { buildBundle, scanBundle, stageBundle } from "@greentic/bundle";
import { HELLO, rejectsWith, testdir } from "./helpers.ts";

const base = { bundleId: "limits", version: "1.0.0" };

/** Builds `src` and expects the refusal `code`, with nothing left in `dir` but the source. */
async function refusedAtBuild(dir: string, code: string, limits?: Record<string, number>) {
  const error = await rejectsWith(
    buildBundle({ ...base, sourceDir: join(dir, "src"), outFile: join(dir, "out.gtbundle"), limits }),
  );
  expect([error.kind, error.details?.code]).toEqual(["validation", code]);
  expect(await readdir(dir)).toEqual(["src"]);
  return error;
}

describe("bundles build applies the limits staging applies", () => {
  test("a 5 GiB sparse file is refused by its size, without being read", async () => {
    const dir = await testdir();
    await cp(HELLO, join(dir, "src"), { recursive: true });
    await writeFile(join(dir, "src/huge.bin"), "");
    await truncate(join(dir, "src/huge.bin"), 5 * 1024 ** 3);
    const started = Date.now();
    const error = await refusedAtBuild(dir, "too-large");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.path).toBe("huge.bin");
    expect(error.message).toMatch(/over the limit of 1073741824 bytes\.$/);
  });

  test("100 000 entries (the image root and the manifest count, as staging counts them)", async () => {
    const dir = await testdir();
    await mkdir(join(dir, "src/d"), { recursive: true });
    // 99 998 files + the directory d + root + manifest = 100 001 entries.
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let i = lane; i < 99_998; i += 8) await writeFile(join(dir, "src/d", `f${i}`), "");
      }),
    );
    const error = await refusedAtBuild(dir, "too-many-entries");
    expect(error.message).toContain("over the limit of 100000 entries");
  }, 120_000);

  test("the entry count matches staging's at the boundary", async () => {
    const dir = await testdir();
    await mkdir(join(dir, "src"));
    for (const name of ["a", "b", "c"]) await writeFile(join(dir, "src", name), name);
    // root + 3 files + manifest = 5 entries: accepted at 5, refused at 4, by build and stage alike.
    const built = await buildBundle({
      ...base,
      sourceDir: join(dir, "src"),
      outFile: join(dir, "ok.gtbundle"),
      limits: { maxEntries: 5 },
    });
    await stageBundle(built.outFile, join(dir, "rev5"), { limits: { maxEntries: 5 } });
    const atStage = await rejectsWith(stageBundle(built.outFile, join(dir, "rev4"), { limits: { maxEntries: 4 } }));
    expect(atStage.details?.code).toBe("too-many-entries");
    const atBuild = await rejectsWith(
      buildBundle({
        ...base,
        sourceDir: join(dir, "src"),
        outFile: join(dir, "no.gtbundle"),
        limits: { maxEntries: 4 },
      }),
    );
    expect(atBuild.details?.code).toBe("too-many-entries");
  });

  test("a 1 320-byte path", async () => {
    const dir = await testdir();
    const parts = [..."abcdef"].map((c) => c.repeat(200));
    await mkdir(join(dir, "src", ...parts), { recursive: true });
    const file = [...parts, "x".repeat(114)].join("/");
    expect(Buffer.byteLength(file)).toBe(1_320);
    await writeFile(join(dir, "src", file), "deep");
    // Names are at most 255 bytes, so the first entry over 1024 bytes is an ancestor directory.
    const error = await refusedAtBuild(dir, "path-too-long");
    expect(file.startsWith(error.path!)).toBe(true);
    expect(Buffer.byteLength(error.path!)).toBeGreaterThan(1024);
    expect(error.message).toMatch(/is longer than 1024 bytes\.$/);
  });

  test("a compression ratio staging would refuse", async () => {
    const dir = await testdir();
    await mkdir(join(dir, "src"));
    await writeFile(join(dir, "src/zeros.bin"), Buffer.alloc(4 * 1024 * 1024));
    const error = await refusedAtBuild(dir, "ratio-exceeded", { maxRatio: 10 });
    expect(error.message).toMatch(/\(ratio \d+\.\d, limit 10\)\.$/);
  });
});

describe("the same leak scan gates build and stage", () => {
  test("a base64-encoded .env is refused at build, and at stage when built anyway", async () => {
    const dir = await testdir();
    await cp(HELLO, join(dir, "src"), { recursive: true });
    const password = ["Tr0ub4dor", "-", "x".repeat(3), "9"].join("");
    await writeFile(join(dir, "src/env.b64"), Buffer.from(`DB_PASSWORD=${password}\n`).toString("base64"));
    const atBuild = await rejectsWith(
      buildBundle({ ...base, sourceDir: join(dir, "src"), outFile: join(dir, "leaky.gtbundle") }),
    );
    expect(atBuild.details?.code).toBe("leak-detected");
    expect(JSON.stringify(atBuild.toJSON())).not.toContain(password);
    const built = await buildBundle({
      ...base,
      sourceDir: join(dir, "src"),
      outFile: join(dir, "leaky.gtbundle"),
      allowLeaks: true,
    });
    const atStage = await rejectsWith(stageBundle(built.outFile, join(dir, "rev")));
    expect(atStage.details?.code).toBe("leak-detected");
    const rule = (f: { rule?: string; path: string; layer?: string }) => [f.rule, f.path, f.layer];
    expect((atStage.details!.findings as { rule?: string; path: string }[]).map(rule)).toEqual(
      built.findings.map(rule),
    );
    expect(built.findings.map(rule)).toEqual([["env-secret", "env.b64", "base64@0"]]);
    expect((await scanBundle(built.outFile)).findings.map(rule)).toEqual([["env-secret", "env.b64", "base64@0"]]);
  });
});
