import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, test } from "vitest";
import { scanDirectory } from "@greentic/bundle";
import { LEAK_FORMS, type LeakCase, generateLeakCorpus, leakKinds } from "../../../fixtures/leaks/generate.ts";
import { testdir } from "./helpers.ts";

// The corpus is written once for the file (into a dir that outlives single tests).
let corpus: LeakCase[] = [];
beforeAll(async () => {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(join(tmpdir(), "gt-leaks-"));
  corpus = generateLeakCorpus(dir);
  return () => rm(dir, { recursive: true, force: true });
});

describe("the leak corpus", () => {
  test("has 31 kinds, each in plain, gzip, base64, UTF-16 and zip form", () => {
    expect(leakKinds()).toHaveLength(31);
    expect(new Set(leakKinds().map((k) => k.id)).size).toBe(31);
    expect(corpus).toHaveLength(31 * LEAK_FORMS.length);
  });

  for (const kind of leakKinds()) {
    for (const form of LEAK_FORMS) {
      test(`${kind.id} (${form}) is found by ${kind.rule}, and the report never holds the secret`, async () => {
        const c = corpus.find((x) => x.kind.id === kind.id && x.form === form)!;
        const report = await scanDirectory(c.dir);
        expect(report.ok).toBe(false);
        const ours = report.findings.find((f) => f.rule === kind.rule);
        expect(ours, JSON.stringify(report.findings.map((f) => f.rule))).toBeDefined();
        expect(ours!.path).toBe(c.path);
        expect(ours!.fingerprint).toMatch(/^sha256:[0-9a-f]{12}$/);
        if (form === "plain") expect(ours!.layer).toBeUndefined();
        else
          expect(ours!.layer).toMatch(
            { gzip: /^gzip$/, base64: /^base64@0$/, utf16: /^utf-16le$/, zip: /^zip:/ }[form],
          );
        expect(JSON.stringify(report)).not.toContain(kind.secret);
      });
    }
  }
});

describe("where else secrets hide", () => {
  const token = () => ["ghp", "_", "Z".repeat(12), "y".repeat(12), "0123456789AB"].join("");

  test("a token in a file name and in a symlink target", async () => {
    const dir = await testdir();
    await writeFile(join(dir, `backup-${token()}.txt`), "nothing here\n");
    await symlink(`../${token()}`, join(dir, "link"));
    const report = await scanDirectory(dir);
    const shown = `backup-[redacted sha256:${report.findings[0]!.fingerprint!.slice(7)}].txt`;
    expect(report.findings.map((f) => [f.path, f.rule, f.location])).toEqual([
      [shown, "github-token", "name"],
      [shown, "secretlint:github/GITHUB_TOKEN", "name"],
      ["link", "github-token", "symlink target"],
      ["link", "secretlint:github/GITHUB_TOKEN", "symlink target"],
    ]);
    expect(report.findings[2]!.message).toBe("the symlink target of link contains a GitHub token (value redacted).");
    expect(JSON.stringify(report)).not.toContain(token());
  });

  test("layers inside layers: base64 of gzip of UTF-16, UTF-16 big-endian without a BOM", async () => {
    const dir = await testdir();
    const secret = ["sk", "_live_", "Q".repeat(30)].join("");
    const inner = gzipSync(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`key=${secret}\n`, "utf16le")]));
    await writeFile(join(dir, "blob.txt"), `data: ${inner.toString("base64")}\n`);
    const be = Buffer.from(`pay ${secret} now, and then some more words here\n`, "utf16le");
    be.swap16();
    await writeFile(join(dir, "be.txt"), be);
    const report = await scanDirectory(dir);
    const stripe = report.findings.filter((f) => f.rule === "stripe-secret-key");
    expect(stripe.map((f) => [f.path, f.layer])).toEqual([
      ["be.txt", "utf-16be"],
      ["blob.txt", "base64@6 > gzip > utf-16le"],
    ]);
  });

  test("a gzip bomb is decoded only up to the budget and the scan still ends", async () => {
    const dir = await testdir();
    await writeFile(join(dir, "bomb.gz"), gzipSync(Buffer.alloc(256 * 1024 * 1024)));
    const started = Date.now();
    const report = await scanDirectory(dir);
    expect(report.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe("what is not a secret", () => {
  test("references, templates and placeholders pass; so does ordinary text and binary", async () => {
    const dir = await testdir();
    await mkdir(join(dir, "conf"));
    await writeFile(
      join(dir, "conf/app.env"),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style reference, on purpose
      "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=secret://prod/api/token\nSESSION_SECRET=<set-me>\nTOKEN_TTL=3600\n",
    );
    await writeFile(
      join(dir, "conf/app.yaml"),
      'password: "{{ .Values.password }}"\ntoken_url: https://auth.example.test/token\nsecret_ref: "secret://prod/x"\n',
    );
    await writeFile(
      join(dir, "index.html"),
      "<html><body><h1>Hello</h1><p>The token bucket refills.</p></body></html>\n",
    );
    await writeFile(join(dir, "logo.bin"), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    await writeFile(join(dir, "README.md"), "Run `op secrets put` to store the password; never commit it.\n");
    expect(await scanDirectory(dir)).toEqual({ ok: true, findings: [] });
  });
});
