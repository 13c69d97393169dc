import { connect, createServer, Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GreenticError } from "@greentic/deploy-spec";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import { allocatePorts, CANARY_SCHEMA, portsInUse, type CanaryRecord } from "./canary.js";
import { createHostExecutor } from "./executor.js";

// The allocator reads this host's real socket table (/proc/net/tcp*): the sockets below are real.

const spec = (from: number, to: number) => {
  const r = parseDeploymentSpec(
    JSON.stringify({
      apiVersion: "greentic.ai/v1alpha1",
      kind: "Deployment",
      metadata: { name: "acme" },
      spec: {
        bundle: { source: "/srv/acme.gtbundle" },
        runtime: { binary: "/opt/runtime.js", publicBind: "127.0.0.1:8080" },
        rollout: { strategy: "canary", revisionPorts: `${from}-${to}` },
      },
    }),
  );
  if (!r.ok) throw new Error(r.summary);
  return r.value;
};
const record = (metrics: number, revisions: CanaryRecord["revisions"] = {}): CanaryRecord => ({
  schema: CANARY_SCHEMA,
  deployment: "acme",
  revisions,
  split: null,
  metrics_port: metrics,
});

const open: Array<Server | Socket> = [];
afterEach(async () => {
  // Sockets first: a server's close waits for its connections.
  const all = open.splice(0);
  for (const s of all) if (!(s instanceof Server)) s.destroy();
  for (const s of all) if (s instanceof Server) await new Promise((r) => s.close(r));
});
const listen = (port: number, host = "127.0.0.1") =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer((s) => open.push(s));
    server.once("error", reject);
    server.listen(port, host, () => {
      open.push(server);
      resolve(server);
    });
  });

/** A block of `n` consecutive ports no socket on this host holds now (below the ephemeral range). */
async function freeBlock(n: number): Promise<number> {
  const taken = await portsInUse(createHostExecutor());
  for (let tries = 0; tries < 200; tries++) {
    const base = 21_000 + Math.floor(Math.random() * 10_000);
    if (Array.from({ length: n }, (_, i) => base + i).every((p) => !taken.has(p))) return base;
  }
  throw new Error("no free block of ports");
}

describe("canary revision ports", () => {
  it("skips ports held on the host by a listener (IPv4 and IPv6) and by a connected socket", async () => {
    const base = await freeBlock(8);
    const executor = createHostExecutor();
    // base: the proxy's metrics port. Free at first: base+1 and base+2.
    expect(await allocatePorts(executor, spec(base, base + 7), record(base))).toEqual({
      public_port: base + 1,
      admin_port: base + 2,
    });
    await listen(base + 1);
    await listen(base + 2, "::1");
    // A client socket bound to base+4, connected to the listener on base+1.
    const client = connect({ host: "127.0.0.1", port: base + 1, localAddress: "127.0.0.1", localPort: base + 4 });
    open.push(client);
    await new Promise((r, j) => client.once("connect", r).once("error", j));
    const taken = await portsInUse(executor);
    expect([base + 1, base + 2, base + 4].every((p) => taken.has(p))).toBe(true);
    expect(taken.has(base + 3)).toBe(false);
    // base+3 is recorded for a drained revision, so the two free ones are base+5 and base+6.
    const drained = {
      old: {
        bundle_digest: "sha256:00",
        bundle_file: "/var/lib/greentic/acme/revisions/old.gtbundle",
        public_port: base + 3,
        admin_port: base + 7,
        status: "drained" as const,
        warmed_at: "2026-01-01T00:00:00.000Z",
      },
    };
    expect(await allocatePorts(executor, spec(base, base + 7), record(base, drained))).toEqual({
      public_port: base + 5,
      admin_port: base + 6,
    });
  });

  it("refuses with a conflict naming the ports other processes hold when fewer than two are free", async () => {
    const base = await freeBlock(4);
    await listen(base + 1);
    await listen(base + 3);
    const error = await allocatePorts(createHostExecutor(), spec(base, base + 3), record(base)).catch((e) => e);
    expect(error).toBeInstanceOf(GreenticError);
    expect(error.kind).toBe("conflict");
    expect(error.message).toBe(`no two free ports left in spec.rollout.revisionPorts ${base}-${base + 3}`);
    expect(error.hint).toContain(`ports ${base + 1}, ${base + 3} of the range are held by other processes`);
    expect(error.details).toEqual({ code: "no-free-ports", held_by_others: [base + 1, base + 3] });
  });

  it("staging (--root) records no command and allocates from the record alone", async () => {
    const executor = createHostExecutor({ root: "/tmp/unused-staging-root" });
    expect(await allocatePorts(executor, spec(30_000, 30_010), record(30_000))).toEqual({
      public_port: 30_001,
      admin_port: 30_002,
    });
    expect(executor.recorded).toEqual([]);
  });
});
