// Test helpers shared by the env-pack handler suites (env-packs, deployer-local, operations):
// temp directories that clean themselves up, and a handler context over one of them.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";

/** A temp directory removed when the test finishes (read-only staged bundles included). */
export async function testDir(prefix = "greentic-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(async () => {
    await rm(dir, { recursive: true, force: true }).catch(async () => {
      await new Promise((resolve) => execFile("chmod", ["-R", "u+w", dir], resolve));
      await rm(dir, { recursive: true, force: true });
    });
  });
  return dir;
}

/** A handler context (`HandlerContext` of @greentic/env-packs) whose data areas live under `root/<envId>/<area>`; `events` collects what it logs. */
export function contextFor<X extends object = object>(root: string, envId = "local", extra?: X) {
  const events: Record<string, any>[] = [];
  return {
    envId,
    async dataDir(area: string): Promise<string> {
      const dir = join(root, envId, area);
      await mkdir(dir, { recursive: true });
      return dir;
    },
    log: (event: Record<string, any>) => {
      events.push(event);
    },
    events,
    ...(extra as X),
  };
}
