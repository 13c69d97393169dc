import { expect, it } from "vitest";
import { UNKNOWN_ULID, checkBadInput, helloBundle } from "../../helpers.js";
import { describeMutating } from "../../mutating-suite.js";

const suite = describeMutating({
  verb: ["revisions", "stage"],
  setup: (s) => (s.ok(["env", "init"]), { deployment: s.ok(["bundles", "add", "local", "--bundle-id", "hello"]).deployment.deployment_id as string, bundle: helloBundle() }),
  valid: (f) => ({ environment_id: "local", deployment_id: f.deployment, bundle_path: f.bundle }),
  missingField: "deployment_id",
  wrongType: ["bundle_path", "42"],
  unknownTarget: { field: "deployment_id", value: UNKNOWN_ULID, name: "unknown deployment" },
  idempotency: (f) => ({
    first: { environment_id: "local", deployment_id: f.deployment, bundle_path: f.bundle, idempotency_key: "st-1" },
    second: { environment_id: "local", deployment_id: f.deployment, bundle_path: f.bundle, drain_seconds: 5, idempotency_key: "st-1" },
  }),
  knownBugs: {
    "stale precondition": "operations stages the bundle into the data area before the precondition is checked",
    "reused idempotency key with another payload": "operations stages the bundle into the data area before the idempotency key is checked",
  },
  extra: (f) => [
    { name: "bundle file that does not exist", answers: `environment_id: local\ndeployment_id: ${f.deployment}\nbundle_path: /nonexistent/x.gtbundle\n`, exit: 4, kind: ["not-found", "invalid-argument"], namesFile: false, message: ["x.gtbundle"] },
  ],
});

it("stages the hello bundle from flags", () => {
  const { s, f } = suite.get();
  const r = s.ok(["revisions", "stage", "local", "--deployment", f.deployment, "--bundle", f.bundle]);
  expect(r.revision.lifecycle).toBe("staged");
  expect(r.revision.bundle_digest).toMatch(/^sha256:/);
});

// Known bug: the revision directory made for the copy stays behind when extraction fails.
it.fails("a file that is not a bundle is refused and leaves the store unchanged [known bug: operations keeps the failed copy]", () => {
  const { s, f } = suite.get();
  // @greentic/bundle reports an unreadable image as an operational failure (exit 1), not bad input.
  checkBadInput(s, ["revisions", "stage"], { name: "bundle file that is not a bundle", answers: `environment_id: local\ndeployment_id: ${f.deployment}\nbundle_path: ${import.meta.filename}\n`, exit: 1, kind: ["io", "integrity"], namesFile: false, message: ["squashfs"] });
});
