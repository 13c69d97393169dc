import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeploymentSpec } from "@greentic/deploy-spec";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";

/** A free TCP port on 127.0.0.1 (the testbed shares the host's network namespace). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Builds a real squashfs bundle holding an index.html that says `text`; returns its bytes' path. */
export function makeBundle(dir: string, name: string, text: string): string {
  const src = mkdtempSync(join(tmpdir(), "gt-bundle-src-"));
  try {
    chmodSync(src, 0o755); // mkdtemp makes 0700: the bundle's root must be readable by the service user
    writeFileSync(join(src, "index.html"), `<h1>${text}</h1>\n`);
    writeFileSync(
      join(src, "bundle-manifest.json"),
      `${JSON.stringify({ bundle_id: "acme", version: text, entry: { kind: "static", index: "index.html" } })}\n`,
    );
    mkdirSync(dir, { recursive: true });
    const out = join(dir, name);
    execFileSync("mksquashfs", [src, out, "-noappend", "-quiet", "-all-root"]);
    return out;
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

/** Parses a spec document given as an object; fails the test on invalid input. */
export function specOf(doc: Record<string, unknown>): DeploymentSpec {
  const r = parseDeploymentSpec(JSON.stringify(doc), { source: "test spec" });
  if (!r.ok) throw new Error(r.summary);
  return r.value;
}
