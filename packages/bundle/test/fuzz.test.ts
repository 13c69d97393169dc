import { execFileSync } from "node:child_process";
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";
import { extractArchive, symlinkEscape } from "@greentic/bundle";
import { writeTar, writeZip, type TarEntrySpec } from "../../../fixtures/hostile/archive-writers.ts";

// Random archive trees aimed at the extractor: names with '..', '.', empty and unicode parts,
// absolute names (pointing into the sentinel directory), symlinks with random targets,
// hardlinks, FIFOs, duplicates and random sizes.
interface Spec {
  parts: string[];
  absolute: boolean;
  type: "file" | "dir" | "symlink" | "hardlink" | "fifo";
  target: string[];
  targetAbsolute: boolean;
  size: number;
}

const segment = fc.constantFrom("a", "b", "..", ".", "", "ü", "c d", "x.txt", "out", "sentinel");
const spec: fc.Arbitrary<Spec> = fc.record({
  parts: fc.array(segment, { minLength: 1, maxLength: 4 }),
  absolute: fc.boolean(),
  type: fc.constantFrom("file", "dir", "symlink", "hardlink", "fifo"),
  target: fc.array(segment, { minLength: 0, maxLength: 4 }),
  targetAbsolute: fc.boolean(),
  size: fc.nat(3000),
});
// A quarter of the trees are benign-looking (plain names, files and directories) so that
// accepted extractions are exercised too, not only rejections.
const benign: fc.Arbitrary<Spec> = fc.record({
  parts: fc.array(fc.constantFrom("a", "b", "ü", "c d", "x.txt"), { minLength: 1, maxLength: 3 }),
  absolute: fc.constant(false),
  type: fc.constantFrom("file", "dir"),
  target: fc.constant([]),
  targetAbsolute: fc.constant(false),
  size: fc.nat(3000),
});
const tree = fc.oneof(
  { arbitrary: fc.array(spec, { minLength: 1, maxLength: 10 }), weight: 3 },
  { arbitrary: fc.uniqueArray(benign, { minLength: 1, maxLength: 3, selector: (s) => s.parts.join("/") }), weight: 1 },
);

function name(s: Spec, base: string): string {
  const rel = s.parts.join("/");
  return s.absolute ? `${base}/${rel}` : rel;
}
function target(s: Spec, base: string): string {
  const rel = s.target.join("/");
  return s.targetAbsolute ? `${base}/${rel}` : rel;
}

/** Every path under `dir` (not following links), for before/after comparison. */
async function snapshot(dir: string, skip: string): Promise<string[]> {
  const out: string[] = [];
  async function visit(d: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (p === skip) continue;
      out.push(`${p}:${entry.isDirectory() ? "d" : entry.isSymbolicLink() ? "l" : "f"}`);
      if (entry.isDirectory()) await visit(p);
    }
  }
  await visit(dir);
  return out.sort();
}

/** Asserts the extracted tree only holds files, dirs and symlinks that resolve inside it. */
async function assertContained(dest: string): Promise<void> {
  const root = await realpath(dest);
  async function visit(d: string, depth: number): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      expect(entry.isFile() || entry.isDirectory() || entry.isSymbolicLink()).toBe(true);
      if (entry.isSymbolicLink()) {
        const { readlink } = await import("node:fs/promises");
        expect(symlinkEscape(depth, await readlink(p))).toBeUndefined();
        const real = await realpath(p).catch(() => undefined);
        if (real !== undefined) expect(real === root || real.startsWith(`${root}/`)).toBe(true);
      }
      if (entry.isDirectory()) await visit(p, depth + 1);
    }
  }
  await visit(dest, 0);
}

async function runCase(write: (base: string, archive: string) => void): Promise<"ok" | "rejected"> {
  const base = await mkdtemp(join(tmpdir(), "gt-fuzz-"));
  try {
    const parent = join(base, "sentinel");
    mkdirSync(join(parent, "a"), { recursive: true });
    writeFileSync(join(parent, "a", "keep.txt"), "sentinel");
    const archive = join(base, "archive.bin");
    write(base, archive);
    const dest = join(parent, "out");
    const before = await snapshot(base, dest);
    let outcome: "ok" | "rejected";
    try {
      await extractArchive(archive, dest);
      outcome = "ok";
    } catch (error) {
      if (!(error instanceof GreenticError)) throw error;
      expect(["validation", "io"]).toContain(error.kind);
      expect(typeof error.details?.code).toBe("string");
      outcome = "rejected";
    }
    // Nothing appeared, vanished or changed type anywhere outside the destination.
    expect(await snapshot(base, dest)).toEqual(before);
    if (outcome === "ok") await assertContained(dest);
    return outcome;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

function tarEntries(specs: Spec[], base: string): TarEntrySpec[] {
  return specs.map((s) => ({
    name: name(s, base),
    type: s.type,
    data: Buffer.alloc(s.size, 120),
    ...(s.type === "symlink" || s.type === "hardlink" ? { linkname: target(s, base) } : {}),
  }));
}

// The property is only meaningful if some random trees are accepted and some rejected.
const outcomes = { ok: 0, rejected: 0 };
function count(outcome: "ok" | "rejected"): void {
  outcomes[outcome] += 1;
}
function expectBothOutcomes(): void {
  expect(outcomes.ok).toBeGreaterThan(0);
  expect(outcomes.rejected).toBeGreaterThan(0);
  outcomes.ok = 0;
  outcomes.rejected = 0;
}

describe("fuzz: random archive trees never write outside the staging directory", () => {
  test("tar", async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (specs) =>
        count(await runCase((base, archive) => writeFileSync(archive, writeTar(tarEntries(specs, base))))),
      ),
      { numRuns: 150 },
    );
    expectBothOutcomes();
  });

  test("zip", async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (specs) =>
        count(
          await runCase((base, archive) =>
            writeFileSync(
              archive,
              writeZip(
                specs.map((s) => {
                  const n = name(s, base);
                  if (s.type === "dir") return { name: `${n}/` };
                  if (s.type === "symlink") return { name: n, data: target(s, base), unixMode: 0o120777 };
                  if (s.type === "fifo") return { name: n, unixMode: 0o010644 };
                  return { name: n, data: Buffer.alloc(s.size, 120) };
                }),
              ),
            ),
          ),
        ),
      ),
      { numRuns: 100 },
    );
    expectBothOutcomes();
  });

  test("squashfs (real trees with escaping symlinks, hardlinks and FIFOs)", async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (specs) =>
        count(
          await runCase((base, archive) => {
            const src = join(base, "src");
            mkdirSync(src);
            for (const s of specs) {
              const parts = s.parts.filter((p) => p !== "" && p !== "." && p !== "..");
              if (parts.length === 0) continue;
              const p = join(src, ...parts);
              try {
                mkdirSync(dirname(p), { recursive: true });
                if (s.type === "dir") mkdirSync(p, { recursive: true });
                else if (s.type === "symlink") symlinkSync(target(s, base) || ".", p);
                else if (s.type === "fifo") execFileSync("mkfifo", [p], { stdio: "ignore" });
                else if (s.type === "hardlink")
                  linkSync(join(src, ...s.target.filter((t) => t !== "" && t !== "." && t !== "..")), p);
                // "wx": opening an existing FIFO for writing would block this test forever.
                else writeFileSync(p, Buffer.alloc(s.size, 120), { flag: "wx" });
              } catch {
                // a conflicting or impossible node: skip it, the tree is still random
              }
            }
            execFileSync("mksquashfs", [src, archive, "-noappend", "-quiet", "-no-progress", "-all-root"]);
            rmSyncTree(src);
          }),
        ),
      ),
      { numRuns: 40 },
    );
    expectBothOutcomes();
  });
});

function rmSyncTree(dir: string): void {
  execFileSync("rm", ["-rf", "--", dir]);
}
