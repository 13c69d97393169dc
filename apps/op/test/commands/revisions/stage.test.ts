import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { type Store, UNKNOWN_ULID, checkBadInput, helloBundle, stageHello, tempDir } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["revisions", "stage"],
  setup: (s) => (
    s.ok(["env", "init"]),
    {
      deployment: s.ok(["bundles", "add", "local", "--bundle-id", "hello"]).deployment.deployment_id as string,
      bundle: helloBundle(),
    }
  ),
  valid: (f) => ({ environment_id: "local", deployment_id: f.deployment, bundle_path: f.bundle }),
  missingField: "deployment_id",
  wrongType: ["bundle_path", "42"],
  unknownTarget: { field: "deployment_id", value: UNKNOWN_ULID, name: "unknown deployment" },
  idempotency: (f) => ({
    first: { environment_id: "local", deployment_id: f.deployment, bundle_path: f.bundle, idempotency_key: "st-1" },
    second: {
      environment_id: "local",
      deployment_id: f.deployment,
      bundle_path: f.bundle,
      drain_seconds: 5,
      idempotency_key: "st-1",
    },
  }),
  extra: (f) => [
    // A bundle path is input: checked before anything is looked up, like the answers file.
    {
      name: "bundle file that does not exist",
      answers: `environment_id: local\ndeployment_id: ${f.deployment}\nbundle_path: /nonexistent/x.gtbundle\n`,
      exit: 2,
      kind: "invalid-argument",
      path: "bundle_path",
      message: ["/nonexistent/x.gtbundle", "does not exist"],
    },
    {
      name: "bundle path that is a directory",
      answers: `environment_id: local\ndeployment_id: ${f.deployment}\nbundle_path: ${tmpdir()}\n`,
      exit: 2,
      kind: "invalid-argument",
      path: "bundle_path",
      message: [tmpdir(), "not a regular file"],
    },
  ],
});

it("stages the hello bundle from flags", () => {
  const { s, f } = suite.get();
  const r = s.ok(["revisions", "stage", "local", "--deployment", f.deployment, "--bundle", f.bundle]);
  expect(r.revision.lifecycle).toBe("staged");
  expect(r.revision.bundle_digest).toMatch(/^sha256:/);
});

/** Stages once so that the deployer's data area exists: the cases below must then leave the store byte-for-byte unchanged. */
function withDataArea(): { s: Store; f: { deployment: string; bundle: string } } {
  const got = suite.get();
  stageHello(got.s, got.f.deployment);
  return got;
}

it("a file that is not a bundle is invalid input naming the user's file: the store is unchanged", () => {
  const { s, f } = withDataArea();
  // Checked on the user's file before anything is copied: bad input (exit 2), never a staged copy's path.
  checkBadInput(s, ["revisions", "stage"], {
    name: "bundle file that is not a bundle",
    answers: `environment_id: local\ndeployment_id: ${f.deployment}\nbundle_path: ${import.meta.filename}\n`,
    exit: 2,
    kind: "validation",
    namesFile: false,
    message: [`bundle_path: bundle ${import.meta.filename} is not a valid bundle`, "squashfs"],
  });
});

it("a squashfs image without a manifest is invalid input (validation, exit 2): the store is unchanged", () => {
  const { s, f } = withDataArea();
  const dir = tempDir();
  mkdirSync(join(dir, "tree"));
  writeFileSync(join(dir, "tree", "index.html"), "<p>no manifest</p>\n");
  const image = join(dir, "no-manifest.gtbundle");
  execFileSync("mksquashfs", [join(dir, "tree"), image, "-noappend", "-quiet", "-no-progress", "-all-root"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  checkBadInput(s, ["revisions", "stage"], {
    name: "bundle without a manifest",
    answers: `environment_id: local\ndeployment_id: ${f.deployment}\nbundle_path: ${image}\n`,
    exit: 2,
    kind: "validation",
    namesFile: false,
    message: ["no-manifest.gtbundle", "bundle-manifest.json"],
  });
});
