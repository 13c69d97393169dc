import { lstat, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { extractArchive, inspectBundle, REJECTION_CODES } from "@greentic/bundle";
import { generateHostileFixtures, type HostileFixture } from "../../../fixtures/hostile/generate.ts";
import { rejectsWith, testdir } from "./helpers.ts";

let dir: string;
let fixtures: HostileFixture[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gt-hostile-"));
  fixtures = generateHostileFixtures(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

// Names are known ahead of generation so each fixture gets its own test.
const EXPECTED: Record<string, string> = {
  "tar-absolute-path": "absolute-path",
  "tar-parent-traversal": "parent-traversal",
  "tar-nested-traversal": "parent-traversal",
  "tar-symlink-escape": "symlink-escape",
  "tar-symlink-absolute": "symlink-escape",
  "tar-symlink-dotdot-chain": "symlink-escape",
  "tar-write-through-symlink": "symlink-traversal",
  "tar-hardlink-escape": "hardlink-escape",
  "tar-hardlink-absolute": "hardlink-escape",
  "tar-hardlink-dangling": "hardlink-dangling",
  "tar-char-device": "special-file",
  "tar-block-device": "special-file",
  "tar-fifo": "special-file",
  "tar-duplicate-path": "duplicate-path",
  "tar-path-conflict": "path-conflict",
  "tar-newline-name": "invalid-name",
  "tar-too-many-entries": "too-many-entries",
  "tar-too-large": "too-large",
  "tgz-bomb": "ratio-exceeded",
  "tgz-parent-traversal": "parent-traversal",
  "zip-absolute-path": "absolute-path",
  "zip-drive-path": "absolute-path",
  "zip-parent-traversal": "parent-traversal",
  "zip-backslash": "invalid-name",
  "zip-symlink-escape": "symlink-escape",
  "zip-symlink-absolute": "symlink-escape",
  "zip-write-through-symlink": "symlink-traversal",
  "zip-fifo": "special-file",
  "zip-duplicate-path": "duplicate-path",
  "zip-too-many-entries": "too-many-entries",
  "zip-bomb": "ratio-exceeded",
  "zip-size-lie": "size-mismatch",
  "sq-symlink-escape": "symlink-escape",
  "sq-symlink-absolute": "symlink-escape",
  "sq-symlink-dotdot-chain": "symlink-escape",
  "sq-fifo": "special-file",
  "sq-char-device": "special-file",
  "sq-block-device": "special-file",
  "sq-socket": "special-file",
  "sq-newline-name": "invalid-name",
  "sq-too-many-entries": "too-many-entries",
  "sq-too-large": "too-large",
  "sq-bomb": "ratio-exceeded",
};

function fixture(name: string): HostileFixture {
  const f = fixtures.find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f;
}

test("the generator covers exactly the fixtures listed here", () => {
  const rejected = fixtures.filter((f) => f.expect !== "accept");
  expect(Object.fromEntries(rejected.map((f) => [f.name, f.expect]))).toEqual(EXPECTED);
  for (const code of new Set(Object.values(EXPECTED))) expect(REJECTION_CODES).toContain(code);
});

describe("every hostile archive is rejected with its own code, and nothing is written", () => {
  for (const [name, code] of Object.entries(EXPECTED)) {
    test(`${name} -> ${code}`, async () => {
      const f = fixture(name);
      const parent = await testdir();
      const error = await rejectsWith(extractArchive(f.file, join(parent, "out"), { limits: f.limits }));
      expect(error.kind).toBe("validation");
      expect(error.details?.code).toBe(code);
      expect(error.details?.archive).toBe(f.file);
      expect(error.message).toContain(f.file);
      expect(error.hint).toBeTruthy();
      // Neither the destination nor a staging directory is left behind.
      expect(await readdir(parent)).toEqual([]);
      await expect(lstat("/tmp/greentic-evil")).rejects.toThrow();
    });
  }
});

test("the message names the offending entry", async () => {
  const error = await rejectsWith(extractArchive(fixture("tar-parent-traversal").file, join(await testdir(), "out")));
  expect(error.message).toMatch(/entry "\.\.\/evil\.txt" contains a '\.\.' component/);
  expect(error.details?.entry).toBe("../evil.txt");
  const sym = await rejectsWith(extractArchive(fixture("sq-symlink-escape").file, join(await testdir(), "out")));
  expect(sym.message).toContain('entry "link" is a symlink to "../../etc/passwd", which climbs above the bundle root');
});

test("squashfs listings are checked before anything is extracted (inspect rejects the same way)", async () => {
  for (const name of ["sq-symlink-escape", "sq-fifo", "sq-char-device", "sq-socket", "sq-newline-name", "sq-bomb"]) {
    const error = await rejectsWith(inspectBundle(fixture(name).file));
    expect(error.details?.code, name).toBe(EXPECTED[name]);
  }
});

test("a newline in a squashfs name cannot forge a listing record", async () => {
  const error = await rejectsWith(extractArchive(fixture("sq-newline-name").file, join(await testdir(), "out")));
  expect(error.details?.entry).toBe("a\n-rw-r--r-- 0:0 1 1970-01-01 00:00 fake");
});

test("tar hardlinks to earlier files are extracted as hardlinks inside the tree", async () => {
  const out = join(await testdir(), "out");
  const result = await extractArchive(fixture("tar-hardlink-ok").file, out);
  expect(result.format).toBe("tar");
  expect(result.entries.map((e) => [e.path, e.type])).toEqual([
    ["index.html", "file"],
    ["copy.html", "hardlink"],
  ]);
  const a = await stat(join(out, "index.html"));
  const b = await stat(join(out, "copy.html"));
  expect(a.ino).toBe(b.ino);
  expect(a.nlink).toBe(2);
});

test("squashfs hardlinks stay inside the image and are extracted", async () => {
  const out = join(await testdir(), "out");
  const result = await extractArchive(fixture("sq-hardlink-inside").file, out);
  expect(result.format).toBe("squashfs");
  expect(result.totalBytes).toBe(24);
  expect((await stat(join(out, "copy.html"))).ino).toBe((await stat(join(out, "index.html"))).ino);
});

test("setuid bits and foreign owners are normalised away", async () => {
  const out = join(await testdir(), "out");
  await extractArchive(fixture("sq-setuid-foreign-owner").file, out);
  const st = await stat(join(out, "index.html"));
  expect(st.mode & 0o7777).toBe(0o755);
  expect(st.uid).toBe(process.getuid!());
});

test("limits are validated", async () => {
  const f = fixture("tar-hardlink-ok");
  const bad = await rejectsWith(extractArchive(f.file, join(await testdir(), "out"), { limits: { maxEntries: -1 } }));
  expect(bad.kind).toBe("invalid-argument");
  expect(bad.path).toBe("limits.maxEntries");
  const unknown = await rejectsWith(
    extractArchive(f.file, join(await testdir(), "out"), { limits: { maxBogus: 1 } as never }),
  );
  expect(unknown.kind).toBe("invalid-argument");
});
