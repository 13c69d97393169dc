import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildBundle } from "@greentic/bundle";
import { isErrorKind, type GreenticError } from "@greentic/deploy-spec";
import { answersJsonSchema, type HandlerContext, type RevisionRef } from "@greentic/env-packs";
import { singleVmDeployerHandler } from "../src/index.js";

const repo = join(import.meta.dirname, "../../..");
let temp: string;
let bundleV1: string;
let bundleV2: string;
let runtimeJs: string;
const node = realpathSync(process.execPath);
// A name no other test or host uses: root mode must not touch the real /etc or /var.
const name = `envpack-${process.pid}`;

beforeAll(async () => {
  temp = mkdtempSync(join(tmpdir(), "gt-envpack-unit-"));
  runtimeJs = join(temp, "runtime.js");
  writeFileSync(runtimeJs, "console.log('runtime');\n");
  bundleV1 = join(temp, "hello.gtbundle");
  bundleV2 = join(temp, "hello-v2.gtbundle");
  await buildBundle({
    sourceDir: join(repo, "fixtures/bundles/hello"),
    outFile: bundleV1,
    bundleId: "hello",
    version: "1.0.0",
  });
  await buildBundle({
    sourceDir: join(repo, "fixtures/bundles/hello-v2"),
    outFile: bundleV2,
    bundleId: "hello",
    version: "2.0.0",
  });
}, 120_000);
afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

/** Writes a spec file (no bundle source: the handler supplies the staged bundle). */
function writeSpec(file: string, spec: Record<string, unknown> = {}): string {
  const doc = {
    apiVersion: "greentic.ai/v1alpha1",
    kind: "Deployment",
    metadata: { name },
    spec: { runtime: { binary: runtimeJs, node, admin: { bind: "127.0.0.1:9443" } }, ...spec },
  };
  writeFileSync(file, stringify(doc));
  return file;
}

/** A fresh handler context with its own data dir and the given answers. */
function context(answers: unknown): HandlerContext {
  const data = mkdtempSync(join(temp, "data-"));
  return {
    envId: "vm",
    ...(answers === undefined ? {} : { answers }),
    async dataDir(area) {
      const dir = join(data, area);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
  };
}

const rev = (id: string, deployment = "dep1"): RevisionRef => ({
  revision_id: id,
  deployment_id: deployment,
  bundle_id: "hello",
});
const split = (entries: Array<[string, number]>, revisions = [rev("r1"), rev("r2")]) => ({
  split: {
    deployment_id: "dep1",
    bundle_id: "hello",
    entries: entries.map(([revision_id, weight_bps]) => ({ revision_id, weight_bps })),
  },
  revisions,
});
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as GreenticError,
  );

describe("answers", () => {
  const handler = singleVmDeployerHandler();
  const d = handler.deployer!;

  it("publishes a JSON Schema naming spec_path, root, oci_runtime and the SSH fields", () => {
    const schema = answersJsonSchema(handler) as {
      properties: Record<string, { description?: string }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(schema.properties).sort()).toEqual([
      "identity",
      "known_hosts",
      "oci_runtime",
      "remote_op",
      "root",
      "spec_path",
      "ssh",
    ]);
    expect(schema.required).toEqual(["spec_path"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.root!.description).toMatch(/execute nothing/);
  });

  it("refuses missing, malformed and unknown answers with validation naming the field", async () => {
    const missing = await failure(d.runtimeConfig(context(undefined)));
    expect(isErrorKind(missing, "validation") && missing.message).toBe(
      "env-packs/deployer/answers.json is missing: greentic.deployer.single-vm needs spec_path",
    );
    expect(missing!.hint).toMatch(/spec_path/);

    const relative = await failure(d.runtimeConfig(context({ spec_path: "deployment.yaml" })));
    expect(isErrorKind(relative, "validation") && [relative.message, relative.path]).toEqual([
      "env-packs/deployer/answers.json: spec_path: must be an absolute path",
      "spec_path",
    ]);

    const root = await failure(d.runtimeConfig(context({ spec_path: "/etc/x.yaml", root: "stage" })));
    expect(isErrorKind(root, "validation") && root.path).toBe("root");

    const unknown = await failure(d.runtimeConfig(context({ spec_path: "/etc/x.yaml", specPath: "/etc/y.yaml" })));
    expect(isErrorKind(unknown, "validation") && unknown.issues.map((i) => [i.path, i.code])).toEqual([
      ["", "unrecognized_keys"],
    ]);
    expect(unknown!.message).toMatch(/specPath/);

    // The VM over SSH: its host key must be pinned; the SSH fields need ssh; no staging root.
    const unpinned = await failure(d.runtimeConfig(context({ spec_path: "/etc/x.yaml", ssh: "root@vm1" })));
    expect(isErrorKind(unpinned, "validation") && [unpinned.message, unpinned.path]).toEqual([
      "env-packs/deployer/answers.json: known_hosts: is required with ssh (the VM's pinned host key)",
      "known_hosts",
    ]);
    const orphan = await failure(d.runtimeConfig(context({ spec_path: "/etc/x.yaml", identity: "/root/.ssh/id" })));
    expect(isErrorKind(orphan, "validation") && orphan.path).toBe("identity");
    const staged = await failure(
      d.runtimeConfig(context({ spec_path: "/etc/x.yaml", ssh: "root@vm1", known_hosts: "/k", root: "/stage" })),
    );
    expect(isErrorKind(staged, "validation") && staged.path).toBe("root");
    const badTarget = await failure(
      d.runtimeConfig(context({ spec_path: join(temp, "ok.yaml"), ssh: "root@bad host", known_hosts: "/k" })),
    );
    expect(isErrorKind(badTarget, "validation") && badTarget.message).toBe(
      'env-packs/deployer/answers.json: ssh "root@bad host": "bad host" is not a host name or address',
    );
  });

  it("reports an unreadable spec as not-found and an invalid one as validation naming the spec field", async () => {
    const gone = await failure(d.runtimeConfig(context({ spec_path: join(temp, "nope.yaml") })));
    expect(isErrorKind(gone, "not-found") && gone.message).toBe(
      `env-packs/deployer/answers.json: spec_path ${join(temp, "nope.yaml")} cannot be read: ENOENT`,
    );

    const file = writeSpec(join(temp, "wildcard.yaml"), {
      runtime: { binary: runtimeJs, admin: { bind: "0.0.0.0:8433" } },
    });
    const wildcard = await failure(d.runtimeConfig(context({ spec_path: file })));
    expect(isErrorKind(wildcard, "validation") && wildcard.issues.map((i) => i.path)).toEqual([
      "spec.runtime.admin.bind",
    ]);
    expect(wildcard!.message.startsWith(`${file}: spec.runtime.admin.bind: `)).toBe(true);

    writeFileSync(join(temp, "broken.yaml"), "apiVersion: [\n");
    const broken = await failure(d.runtimeConfig(context({ spec_path: join(temp, "broken.yaml") })));
    expect(isErrorKind(broken, "validation")).toBe(true);
  });
});

describe("staged root mode (answers.root): renders, executes nothing", () => {
  const handler = singleVmDeployerHandler();
  const d = handler.deployer!;
  let root: string;
  let ctx: HandlerContext;
  const under = (p: string) => join(root, p);

  beforeAll(() => {
    root = mkdtempSync(join(temp, "root-"));
    ctx = context({ spec_path: writeSpec(join(temp, "root-spec.yaml")), root });
  });

  it("stage copies the bundle into the handler's data dir and records its digest", async () => {
    const staged = await d.stage(ctx, { revision: rev("r1"), bundlePath: bundleV1 });
    const digest = `sha256:${spawnSync("sha256sum", [bundleV1], { encoding: "utf8" }).stdout.split(" ")[0]}`;
    expect(staged).toEqual({
      revision_id: "r1",
      bundle_digest: digest,
      location: join(await ctx.dataDir("single-vm"), "revisions/r1.gtbundle"),
    });
    expect(readFileSync(staged.location!)).toEqual(readFileSync(bundleV1));
    expect(await d.stage(ctx, { revision: rev("r1"), bundlePath: bundleV1 })).toMatchObject({
      unchanged: true,
      bundle_digest: digest,
    });
    await d.stage(ctx, { revision: rev("r2"), bundlePath: bundleV2 });
    expect(readdirSync(root)).toEqual([]); // staging writes nothing under the root yet
    expect(await d.status(ctx)).toEqual([
      { revision_id: "r1", deployment_id: "dep1", state: "stopped" },
      { revision_id: "r2", deployment_id: "dep1", state: "stopped" },
    ]);
  });

  it("refuses a bad stage request before copying", async () => {
    expect(
      isErrorKind(await failure(d.stage(ctx, { revision: rev("../r9"), bundlePath: bundleV1 })), "invalid-argument"),
    ).toBe(true);
    const missing = await failure(d.stage(ctx, { revision: rev("r9"), bundlePath: join(temp, "none.gtbundle") }));
    expect(isErrorKind(missing, "not-found") && missing.path).toBe("bundlePath");
  });

  it("warm renders the revision's units, env file, certificates and bundle copy under the root", async () => {
    expect(await d.warm(ctx, { revision: rev("r1") })).toEqual({ ok: true });
    const digest = (await d.stage(ctx, { revision: rev("r1"), bundlePath: bundleV1 })).bundle_digest.slice(
      "sha256:".length,
    );
    const mountUnit = readdirSync(under("etc/systemd/system")).find((f) => f.endsWith(".mount"))!;
    expect(readdirSync(under("etc/systemd/system")).sort()).toEqual([`greentic-${name}.service`, mountUnit].sort());
    const mount = readFileSync(under(`etc/systemd/system/${mountUnit}`), "utf8");
    expect(mount).toContain(`What=/var/lib/greentic/${name}/bundles/${digest}.gtbundle`);
    expect(mount).toContain("Type=squashfs");
    expect(readFileSync(under(`var/lib/greentic/${name}/bundles/${digest}.gtbundle`))).toEqual(readFileSync(bundleV1));
    const service = readFileSync(under(`etc/systemd/system/greentic-${name}.service`), "utf8");
    expect(service).toContain(`EnvironmentFile=/etc/greentic/${name}/runtime.env`);
    const env = readFileSync(under(`etc/greentic/${name}/runtime.env`), "utf8");
    expect(env).toContain("GREENTIC_ADMIN_BIND=127.0.0.1:9443");
    // With recreate the runtime serves the public address itself and logs each request.
    expect(env).not.toContain("GREENTIC_ACCESS_LOG");
    expect(existsSync(under(`etc/greentic/${name}/deployer/client.crt`))).toBe(true);
    // Nothing happened on this machine itself.
    for (const p of [
      `/etc/systemd/system/greentic-${name}.service`,
      `/etc/greentic/${name}`,
      `/var/lib/greentic/${name}`,
    ])
      expect(existsSync(p)).toBe(false);
    expect(await d.runtimeConfig(ctx)).toEqual({ env_id: "vm", revisions: [{ ...rev("r1"), weight_bps: 10_000 }] });
    // Root mode runs nothing: the revision is applied but not running.
    expect((await d.status(ctx)).find((s) => s.revision_id === "r1")).toMatchObject({
      state: "stopped",
      admin_url: "https://127.0.0.1:9443",
    });
  });

  it("a warm whose apply fails reports it as data (apply), not as a throw", async () => {
    const other = context({
      spec_path: writeSpec(join(temp, "no-runtime.yaml"), {
        runtime: { binary: join(temp, "missing-runtime.js"), node, admin: { bind: "127.0.0.1:9443" } },
      }),
      root: mkdtempSync(join(temp, "root-")),
    });
    await d.stage(other, { revision: rev("f1"), bundlePath: bundleV1 });
    expect(await d.warm(other, { revision: rev("f1") })).toEqual({
      ok: false,
      failure: {
        failed_checks: ["apply"],
        message: `spec.runtime.binary: ${join(temp, "missing-runtime.js")} does not exist on the target host`,
      },
    });
    expect(await d.runtimeConfig(other)).toEqual({ env_id: "vm", revisions: [] });
  });

  it("refuses splits other than one revision at 100 %, and unknown revisions", async () => {
    const ninetyTen = await failure(
      d.applyTrafficSplit(
        ctx,
        split([
          ["r1", 9_000],
          ["r2", 1_000],
        ]),
      ),
    );
    expect(isErrorKind(ninetyTen, "validation") && ninetyTen.message).toBe(
      "single-vm serves one revision at 100 % in v1; the split for dep1 gives r1 90 %, r2 10 %",
    );
    expect(ninetyTen!.hint).toMatch(/one revision at a time: to move traffic, set the new revision to 100 %/);
    expect(ninetyTen!.details).toMatchObject({ code: "split-unsupported" });
    const sum = await failure(d.applyTrafficSplit(ctx, split([["r1", 9_999]])));
    expect(isErrorKind(sum, "validation") && sum.details).toMatchObject({ code: "invalid-split", sum: 9_999 });
    expect(isErrorKind(await failure(d.applyTrafficSplit(ctx, split([["r7", 10_000]]))), "not-found")).toBe(true);
    const notStaged = await failure(d.applyTrafficSplit(ctx, split([["r3", 10_000]], [rev("r3")])));
    expect(isErrorKind(notStaged, "not-found") && notStaged.message).toBe("revision r3 is not staged on this VM");
    // One call at a time: a rejection must have its handler before the next call starts.
    for (const call of [
      () => d.warm(ctx, { revision: rev("r3") }),
      () => d.drain(ctx, rev("r3")),
      () => d.archive(ctx, rev("r3")),
    ]) {
      expect(isErrorKind(await failure(call()), "not-found")).toBe(true);
    }
    // Nothing changed.
    expect(await d.runtimeConfig(ctx)).toEqual({ env_id: "vm", revisions: [{ ...rev("r1"), weight_bps: 10_000 }] });
  });

  it("100 % to the warmed revision is a no-op; to another staged revision applies it (recreate)", async () => {
    const service = under(`etc/systemd/system/greentic-${name}.service`);
    const before = readFileSync(service, "utf8");
    expect(
      await d.applyTrafficSplit(
        ctx,
        split([
          ["r1", 10_000],
          ["r2", 0],
        ]),
      ),
    ).toEqual({
      env_id: "vm",
      revisions: [
        { ...rev("r1"), weight_bps: 10_000 },
        { ...rev("r2"), weight_bps: 0 },
      ],
    });
    expect(readFileSync(service, "utf8")).toBe(before);
    expect(await d.applyTrafficSplit(ctx, split([["r2", 10_000]]))).toEqual({
      env_id: "vm",
      revisions: [{ ...rev("r2"), weight_bps: 10_000 }],
    });
    const digest2 = (await d.stage(ctx, { revision: rev("r2"), bundlePath: bundleV2 })).bundle_digest.slice(
      "sha256:".length,
    );
    const mountUnit = readdirSync(under("etc/systemd/system")).find((f) => f.endsWith(".mount"))!;
    expect(readFileSync(under(`etc/systemd/system/${mountUnit}`), "utf8")).toContain(
      `What=/var/lib/greentic/${name}/bundles/${digest2}.gtbundle`,
    );
  });

  it("a second deployment on the same VM is refused with conflict", async () => {
    await d.stage(ctx, { revision: rev("o1", "dep2"), bundlePath: bundleV1 });
    const other = await failure(d.warm(ctx, { revision: rev("o1", "dep2") }));
    expect(isErrorKind(other, "conflict") && other.details).toMatchObject({ code: "one-deployment-per-vm" });
    await d.archive(ctx, rev("o1", "dep2"));
  });

  it("archive refuses the live revision, removes another's copy, and is idempotent", async () => {
    const live = await failure(d.archive(ctx, rev("r2")));
    expect(isErrorKind(live, "conflict") && live.message).toBe(
      "revision r2 is the one this VM runs; it cannot be archived",
    );
    expect(live!.hint).toMatch(/move traffic to another revision/);
    const copy = join(await ctx.dataDir("single-vm"), "revisions/r1.gtbundle");
    await d.drain(ctx, rev("r1")); // not running: nothing to do
    await d.archive(ctx, rev("r1"));
    await d.archive(ctx, rev("r1"));
    expect(existsSync(copy)).toBe(false);
    expect((await d.status(ctx)).map((s) => s.revision_id)).toEqual(["r2"]);
  });

  it("drain of the live revision stops the deployment (generated files removed, data kept); destroy forgets everything", async () => {
    await d.drain(ctx, rev("r2"));
    expect(existsSync(under(`etc/systemd/system/greentic-${name}.service`))).toBe(false);
    expect(existsSync(under(`etc/greentic/${name}/deployer/client.crt`))).toBe(true);
    expect(await d.runtimeConfig(ctx)).toEqual({ env_id: "vm", revisions: [] });
    await d.drain(ctx, rev("r2"));
    await d.archive(ctx, rev("r2"));
    expect(await d.destroy(ctx)).toEqual({ stopped: [] });
    expect(await d.status(ctx)).toEqual([]);
    expect(readdirSync(join(await ctx.dataDir("single-vm"), "revisions"))).toEqual([]);
    expect(await handler.credentials!.validate(ctx)).toMatchObject({ result: "pass", missing_capabilities: [] });
  });
});
