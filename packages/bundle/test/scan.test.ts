import { execFileSync } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { buildBundle, isDevStorePath, scanArchiveBytes, scanBundle, scanDirectory } from "@greentic/bundle";
import { FAKE_AWS_KEY_ID, generateLeakySources } from "../../../fixtures/hostile/generate.ts";
import { HELLO, rejectsWith, testdir } from "./helpers.ts";

describe("scanDirectory finds each kind of leak", () => {
  const cases = [
    ["dev_store_path", ".greentic/dev"],
    ["secret_values_populated", "state/setup/messaging.json"],
    ["normalized_answers_leak", "state/setup/form.json"],
    ["private_key", "keys/server.pem"],
    ["token", "app.js"],
  ] as const;
  for (const [kind, path] of cases) {
    test(kind, async () => {
      const dir = await testdir();
      const sources = generateLeakySources(dir);
      const report = await scanDirectory(sources[kind]!);
      expect(report.ok).toBe(false);
      expect(report.findings[0]).toMatchObject({ kind, path });
      const json = JSON.stringify(report);
      for (const secret of ["redacted-but-present", "s3cr3t-value", "tok-123456", "MIIBOgIBAAJBAKj34", FAKE_AWS_KEY_ID])
        expect(json).not.toContain(secret);
    });
  }

  test("the dev-store fixture is flagged for the directory, the file and its name", async () => {
    const report = await scanDirectory(generateLeakySources(await testdir()).dev_store_path!);
    expect(report.findings.map((f) => [f.kind, f.path])).toEqual([
      ["dev_store_path", ".greentic/dev"],
      ["dev_store_path", ".greentic/dev/.dev.secrets.env"],
    ]);
  });

  test("token findings carry rule, offset and a short fingerprint", async () => {
    const report = await scanDirectory(generateLeakySources(await testdir()).token!);
    expect(report.findings).toEqual([
      {
        kind: "token",
        path: "app.js",
        rule: "aws-access-key-id",
        offset: 13,
        fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{12}$/),
        message: "app.js contains an AWS access key id at byte 13 (value redacted).",
      },
    ]);
  });

  test("other token shapes", async () => {
    const dir = await testdir();
    const shapes = {
      "gh.txt": `x ${"ghp_"}${"a".repeat(36)} y`,
      "pat.txt": `${"github_pat_"}${"B".repeat(30)}`,
      "slack.txt": `${"xoxb-"}1234567890-abcdef`,
      "jwt.txt": `${"eyJ"}hbGciOiJIUzI1NiJ9.${"eyJ"}zdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U`,
      "ok.txt": "AKIA is a prefix; ghp_short; nothing here",
    };
    for (const [name, text] of Object.entries(shapes)) await writeFile(join(dir, name), text);
    const report = await scanDirectory(dir);
    // Our rules and secretlint's preset both report the GitHub token; ok.txt stays clean.
    expect(report.findings.map((f) => [f.path, f.rule])).toEqual([
      ["gh.txt", "github-token"],
      ["gh.txt", "secretlint:github/GITHUB_TOKEN"],
      ["jwt.txt", "jwt"],
      ["pat.txt", "github-fine-grained-token"],
      ["slack.txt", "slack-token"],
      ["slack.txt", "secretlint:slack/SLACK_TOKEN"],
    ]);
  });

  test("a secret straddling the 1 MiB read chunk is still found once", async () => {
    const dir = await testdir();
    const pad = Buffer.alloc(1024 * 1024 - 8, 0x20);
    await writeFile(join(dir, "big.bin"), Buffer.concat([pad, Buffer.from(FAKE_AWS_KEY_ID), pad]));
    const report = await scanDirectory(dir);
    expect(report.findings.map((f) => [f.rule, f.offset])).toEqual([["aws-access-key-id", 1024 * 1024 - 8]]);
  });

  test("a symlink whose target is a dev-store path is flagged without being followed", async () => {
    const dir = await testdir();
    await symlink("../.greentic/dev/.dev.secrets.env", join(dir, "env"));
    const report = await scanDirectory(dir);
    expect(report.findings.map((f) => [f.kind, f.path])).toEqual([["dev_store_path", "env"]]);
  });

  test("setup files without secrets are clean", async () => {
    const dir = await testdir();
    await mkdir(join(dir, "state/setup"), { recursive: true });
    await writeFile(
      join(dir, "state/setup/a.json"),
      JSON.stringify({
        secret_values: {},
        form: { questions: [{ id: "k", secret: true }] },
        normalized_answers: { k: "" },
      }),
    );
    expect(await scanDirectory(dir)).toEqual({ ok: true, findings: [] });
  });

  test.each([
    [".greentic/dev/x", true],
    ["a/.greentic/state/dev/y", true],
    ["deep/.dev.secrets.env", true],
    [".greentic/state/prod/y", false],
    ["greentic/dev/x", false],
  ])("isDevStorePath(%j) = %s", (path, expected) => {
    expect(isDevStorePath(path)).toBe(expected);
  });
});

describe("build and scanBundle", () => {
  test("build refuses each leaking source by default, naming kind and path only", async () => {
    const dir = await testdir();
    const sources = generateLeakySources(join(dir, "src"));
    for (const [kind, source] of Object.entries(sources)) {
      const error = await rejectsWith(
        buildBundle({ sourceDir: source, outFile: join(dir, `${kind}.gtbundle`), bundleId: "leaky", version: "1.0.0" }),
      );
      expect(error.kind, kind).toBe("validation");
      expect(error.details?.code).toBe("leak-detected");
      expect((error.details!.findings as Array<{ kind: string }>)[0]!.kind).toBe(kind);
    }
  });

  test("scanBundle reports the content findings of a bundle built with allowLeaks", async () => {
    const dir = await testdir();
    const sources = generateLeakySources(join(dir, "src"));
    const built = await buildBundle({
      sourceDir: sources.dev_store_path!,
      outFile: join(dir, "dev.gtbundle"),
      bundleId: "leaky",
      version: "1.0.0",
      allowLeaks: true,
    });
    const report = await scanBundle(built.outFile);
    expect(report.findings.map((f) => [f.kind, f.path])).toEqual([
      ["dev_store_path", ".greentic/dev"],
      ["dev_store_path", ".greentic/dev/.dev.secrets.env"],
    ]);
  });

  test("raw image bytes are scanned for dev-store names (uncompressed metadata)", async () => {
    const dir = await testdir();
    const sources = generateLeakySources(join(dir, "src"));
    const image = join(dir, "raw.gtbundle");
    execFileSync("mksquashfs", [
      sources.dev_store_path!,
      image,
      "-noappend",
      "-quiet",
      "-no-progress",
      "-noI",
      "-noD",
      "-noF",
      "-noX",
    ]);
    const report = await scanBundle(image);
    expect(report.findings.filter((f) => f.kind === "archive_bytes_contains_dev_path")).toEqual([
      {
        kind: "archive_bytes_contains_dev_path",
        path: image,
        message: `The archive bytes of ${image} contain the dev-store marker ".dev.secrets.env".`,
      },
    ]);
    expect(await scanArchiveBytes(join(dir, "src/token/app.js"))).toEqual([]);
  });

  test("the hello bundle is clean", async () => {
    const dir = await testdir();
    const built = await buildBundle({
      sourceDir: HELLO,
      outFile: join(dir, "h.gtbundle"),
      bundleId: "hello",
      version: "1.0.0",
    });
    expect(await scanBundle(built.outFile)).toEqual({ ok: true, findings: [] });
  });
});
