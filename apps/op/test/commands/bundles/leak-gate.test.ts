import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPO, initLocal, op, store, tempDir } from "../../helpers.js";

// One scan gates `op bundles build` and `op revisions stage`, through the real binary.
let s: ReturnType<typeof store>;
beforeAll(() => {
  s = store({ persistent: true });
});
afterAll(() => s.dispose());

const secret = ["ghp", "_", "Q".repeat(18), "r".repeat(18)].join("");

function leakySource(): string {
  const src = join(tempDir("op-leaky-"), "src");
  cpSync(join(REPO, "fixtures/bundles/hello"), src, { recursive: true });
  // A token inside gzip inside base64: only a decoding scan sees it.
  writeFileSync(join(src, "cache.b64"), gzipSync(`GITHUB=${secret}\n`).toString("base64"));
  return src;
}

it("bundles build refuses a leaking source (exit 2, leak-detected) and never prints the secret", () => {
  const src = leakySource();
  const out = join(tempDir(), "leaky.gtbundle");
  const r = op(["bundles", "build", src, "--bundle-id", "leaky", "--bundle-version", "1.0.0", "--out", out, "--json"]);
  expect(r.status).toBe(2);
  expect(r.errorJson.error.kind).toBe("validation");
  expect(r.errorJson.error.message).toMatch(/leak finding\(s\); first: token at cache\.b64\.$/);
  expect(r.stdout + r.stderr).not.toContain(secret);
});

it("revisions stage refuses a bundle built with --allow-leaks, with the same findings", () => {
  initLocal(s);
  const out = join(tempDir(), "leaky.gtbundle");
  const built = s.ok([
    "bundles",
    "build",
    leakySource(),
    "--bundle-id",
    "leaky",
    "--bundle-version",
    "1.0.0",
    "--out",
    out,
    "--allow-leaks",
  ]);
  const rules = built.findings.map((f: { rule: string; layer: string }) => `${f.rule} ${f.layer}`);
  expect(rules).toContain("github-token base64@0 > gzip");
  const dep = s.ok(["bundles", "add", "local", "--bundle-id", "leaky"]).deployment.deployment_id;
  const r = s.op(["revisions", "stage", "local", "--deployment", dep, "--bundle", out, "--json"]);
  expect(r.status).toBe(2);
  // Stage checks the user's file with the same scan (scanBundle) before anything is copied.
  expect(r.errorJson.error.message).toMatch(/holds \d+ likely secret\(s\); first: token at cache\.b64$/);
  expect(r.stdout + r.stderr).not.toContain(secret);
  expect(s.ok(["revisions", "list", "local"]).revisions).toEqual([]);
});
