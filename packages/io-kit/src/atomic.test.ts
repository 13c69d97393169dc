import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { SymlinkRefusedError, copyFileAtomic, fsyncDir, writeFileAtomic } from "./atomic.js";
import { hashFile } from "./hash.js";

async function testDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "io-kit-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("writeFileAtomic", () => {
  it("replaces the content with the exact mode and leaves no temp file", async () => {
    const dir = await testDir();
    const file = join(dir, "doc.json");
    await writeFile(file, "old");
    const umask = process.umask(0o077);
    try {
      await writeFileAtomic(file, "new\n", { mode: 0o644 });
    } finally {
      process.umask(umask);
    }
    expect(await readFile(file, "utf8")).toBe("new\n");
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(["doc.json"]);
  });

  it("defaults to mode 0600 and creates parents only when asked", async () => {
    const dir = await testDir();
    const file = join(dir, "a", "b", "secret");
    expect((await refusal(writeFileAtomic(file, "x"))) as NodeJS.ErrnoException).toMatchObject({ code: "ENOENT" });
    await writeFileAtomic(file, "x", { dirMode: 0o700 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "a"))).mode & 0o777).toBe(0o700);
  });

  it("refuses to write through a symlinked file and leaves its target alone", async () => {
    const dir = await testDir();
    const victim = join(dir, "victim");
    await writeFile(victim, "precious");
    await symlink(victim, join(dir, "doc.json"));
    const error = await refusal(writeFileAtomic(join(dir, "doc.json"), "evil"));
    expect(error).toBeInstanceOf(SymlinkRefusedError);
    expect(error).toMatchObject({ code: "ESYMLINK", path: join(dir, "doc.json") });
    expect(await readFile(victim, "utf8")).toBe("precious");
    expect((await readdir(dir)).sort()).toEqual(["doc.json", "victim"]);
  });

  it("with a root, refuses a symlinked directory between the root and the file", async () => {
    const dir = await testDir();
    const elsewhere = join(dir, "elsewhere");
    await mkdir(elsewhere);
    await mkdir(join(dir, "store"));
    await symlink(elsewhere, join(dir, "store", "env"));
    const file = join(dir, "store", "env", "environment.json");
    const error = await refusal(writeFileAtomic(file, "{}", { root: join(dir, "store") }));
    expect(error).toMatchObject({ code: "ESYMLINK", path: join(dir, "store", "env"), target: file });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it("exclusive: fails with EEXIST and keeps the file that is there", async () => {
    const dir = await testDir();
    const file = join(dir, "ledger");
    await writeFileAtomic(file, "first", { exclusive: true });
    const error = await refusal(writeFileAtomic(file, "second", { exclusive: true }));
    expect(error).toMatchObject({ code: "EEXIST" });
    expect(await readFile(file, "utf8")).toBe("first");
    expect(await readdir(dir)).toEqual(["ledger"]);
  });

  it("gives the file its owner (as root)", async () => {
    if (process.getuid?.() !== 0) return expect(process.env.CI).not.toBe("true");
    const dir = await testDir();
    const file = join(dir, "owned");
    await writeFileAtomic(file, "x", { owner: { uid: 1, gid: 2 } });
    expect(await stat(file)).toMatchObject({ uid: 1, gid: 2 });
  });
});

describe("copyFileAtomic", () => {
  it("copies, sets the mode and returns the hash of the copy", async () => {
    const dir = await testDir();
    const content = "bundle bytes\n".repeat(1000);
    await writeFile(join(dir, "src"), content);
    const hash = await copyFileAtomic(join(dir, "src"), join(dir, "dst"), { mode: 0o444 });
    expect(hash).toEqual({ size: content.length, sha256: sha256(content) });
    expect(await readFile(join(dir, "dst"), "utf8")).toBe(content);
    expect((await stat(join(dir, "dst"))).mode & 0o777).toBe(0o444);
    expect((await readdir(dir)).sort()).toEqual(["dst", "src"]);
  });

  it("refuses a symlinked target and leaves no temp file when the source is missing", async () => {
    const dir = await testDir();
    await writeFile(join(dir, "src"), "x");
    await symlink(join(dir, "src"), join(dir, "link"));
    expect(await refusal(copyFileAtomic(join(dir, "src"), join(dir, "link")))).toBeInstanceOf(SymlinkRefusedError);
    expect(await refusal(copyFileAtomic(join(dir, "missing"), join(dir, "dst")))).toMatchObject({ code: "ENOENT" });
    expect((await readdir(dir)).sort()).toEqual(["link", "src"]);
  });
});

describe("hashFile and fsyncDir", () => {
  it("hashes small files in one read and large ones streamed, identically", async () => {
    const dir = await testDir();
    const small = Buffer.alloc(10, 7);
    const large = Buffer.alloc(3 * 1024 * 1024 + 5, 9);
    await writeFile(join(dir, "small"), small);
    await writeFile(join(dir, "large"), large);
    expect(await hashFile(join(dir, "small"))).toEqual({ size: 10, sha256: sha256(small) });
    expect(await hashFile(join(dir, "large"))).toEqual({ size: large.length, sha256: sha256(large) });
    expect(await refusal(hashFile(join(dir, "missing")))).toMatchObject({ code: "ENOENT" });
  });

  it("fsyncDir opens directories only", async () => {
    const dir = await testDir();
    await fsyncDir(dir);
    await writeFile(join(dir, "file"), "");
    expect(await refusal(fsyncDir(join(dir, "file")))).toMatchObject({ code: "ENOTDIR" });
  });
});
