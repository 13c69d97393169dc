import { describe, expect, it } from "vitest";
import { checkPackDescriptor, parsePackDescriptor } from "./descriptor.js";
import { GreenticError } from "./errors.js";

describe("parsePackDescriptor", () => {
  it("parses path and version, pre-release and build metadata included", () => {
    expect(parsePackDescriptor("greentic.deployer.local-process@0.1.0")).toEqual({
      path: "greentic.deployer.local-process",
      version: "0.1.0",
      raw: "greentic.deployer.local-process@0.1.0",
    });
    expect(parsePackDescriptor("acme.k8s@1.0.0-dev.1+build.7").version).toBe("1.0.0-dev.1+build.7");
    expect(parsePackDescriptor("a.b@0.0.0").path).toBe("a.b");
  });
  it.each([
    [
      "greentic.deployer.local-process",
      "missing-version",
      'pack descriptor "greentic.deployer.local-process" has no "@<version>"',
    ],
    // The reference splits on the first "@" only: the rest fails as a version (tests/pack_descriptor.rs:43).
    [
      "greentic.x@1.0.0@2.0.0",
      "invalid-semver",
      'pack descriptor "greentic.x@1.0.0@2.0.0": version "1.0.0@2.0.0" is not a SemVer version (e.g. 0.1.0)',
    ],
    [
      "greentic.x@18446744073709551616.0.0",
      "invalid-semver",
      'pack descriptor "greentic.x@18446744073709551616.0.0": version "18446744073709551616.0.0" is not a SemVer version (e.g. 0.1.0)',
    ],
    ["@1.0.0", "empty-path", 'pack descriptor "@1.0.0" has an empty path before "@"'],
    [
      "greentic@1.0.0",
      "path-missing-dot",
      'pack descriptor path "greentic" must contain a "." (e.g. greentic.deployer.local-process)',
    ],
    [
      "Greentic.deployer@1.0.0",
      "invalid-path-char",
      'pack descriptor path "Greentic.deployer" contains "G"; only a-z, 0-9, "-" and "." are allowed',
    ],
    [
      "greentic.deploy_er@1.0.0",
      "invalid-path-char",
      'pack descriptor path "greentic.deploy_er" contains "_"; only a-z, 0-9, "-" and "." are allowed',
    ],
    [
      "greentic.deployer@1.0",
      "invalid-semver",
      'pack descriptor "greentic.deployer@1.0": version "1.0" is not a SemVer version (e.g. 0.1.0)',
    ],
    [
      "greentic.deployer@v1.0.0",
      "invalid-semver",
      'pack descriptor "greentic.deployer@v1.0.0": version "v1.0.0" is not a SemVer version (e.g. 0.1.0)',
    ],
    [
      "greentic.deployer@01.0.0",
      "invalid-semver",
      'pack descriptor "greentic.deployer@01.0.0": version "01.0.0" is not a SemVer version (e.g. 0.1.0)',
    ],
    [
      "greentic.deployer@",
      "invalid-semver",
      'pack descriptor "greentic.deployer@": version "" is not a SemVer version (e.g. 0.1.0)',
    ],
  ])("%j -> %s", (input, code, message) => {
    expect(checkPackDescriptor(input)).toEqual({ ok: false, code, message });
    let err: unknown;
    try {
      parsePackDescriptor(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GreenticError);
    const g = err as GreenticError;
    expect(g.kind).toBe("validation");
    expect(g.message).toBe(message);
    expect(g.details).toEqual({ code, value: input });
    expect(g.issues).toEqual([{ path: "", code, message }]);
  });
});
