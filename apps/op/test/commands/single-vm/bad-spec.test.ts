import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digestTree } from "../../helpers.js";
import { singleVm, specYaml, type SingleVm } from "./fixture.js";

interface BadSpec {
  name: string;
  /** Spec file content; undefined: the file does not exist. */
  content: (f: SingleVm) => string | undefined;
  kind: string;
  /** The error's `path`; also required in the message. */
  path?: string;
  message: string[];
}

const cases: BadSpec[] = [
  {
    name: "malformed YAML",
    content: () => "apiVersion: [greentic\n  kind: :",
    kind: "answers-parse",
    message: ["not valid YAML"],
  },
  {
    name: "malformed JSON",
    content: () => '{"apiVersion": "greentic.ai/v1alpha1",',
    kind: "answers-parse",
    message: ["not valid JSON"],
  },
  { name: "empty file", content: () => "", kind: "validation", message: ["must be a mapping"] },
  {
    name: "unknown key",
    content: (f) => specYaml({ bundle: f.bundle, runtime: f.runtime, extra: "  surprise: 1" }),
    kind: "validation",
    path: "spec.surprise",
    message: ["unknown field"],
  },
  {
    name: "0.0.0.0 admin bind",
    content: (f) => specYaml({ bundle: f.bundle, runtime: f.runtime, adminBind: "0.0.0.0:8433" }),
    kind: "validation",
    path: "spec.runtime.admin.bind",
    message: ["0.0.0.0:8433", "loopback"],
  },
  {
    name: ":: admin bind",
    content: (f) => specYaml({ bundle: f.bundle, runtime: f.runtime, adminBind: "[::]:8433" }),
    kind: "validation",
    path: "spec.runtime.admin.bind",
    message: ["[::]:8433"],
  },
  { name: "missing file", content: () => undefined, kind: "invalid-argument", message: ["no such file"] },
];

// Every verb that reads a spec refuses bad input with exit 2 before touching the host: the
// staging root (already holding a staged deployment) stays byte-for-byte the same.
const verbs: string[][] = [["plan"], ["apply"], ["destroy", "--confirm"], ["status"], ["rollback"]];

describe("bad specs: exit 2, the file and field path named, nothing written under the root", () => {
  it.each(cases)("$name", (c) => {
    const f = singleVm();
    f.ok(["apply", "--spec", f.spec, "--root", f.root]);
    const content = c.content(f);
    const file = content === undefined ? join(f.dir, "missing.yaml") : f.file("bad.yaml", content);
    const before = digestTree(f.root);
    for (const [verb, ...rest] of verbs) {
      // Human output is checked where the message is rendered the same for every verb.
      for (const json of verb === "plan" || verb === "apply" ? [false, true] : [true]) {
        const args = [verb!, "--spec", file, "--root", f.root, ...rest, ...(json ? ["--json"] : [])];
        const r = f.op(args);
        const label = `${c.name}: op single-vm ${args.join(" ")}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
        expect(r.status, label).toBe(2);
        expect(r.stdout, label).toBe("");
        const message: string = json ? r.errorJson?.error?.message : r.stderr;
        expect(message, label).toContain(file);
        for (const m of [...c.message, ...(c.path ? [c.path] : [])]) expect(message, label).toContain(m);
        if (json) {
          expect(r.errorJson, label).toMatchObject({ op: verb, noun: "single-vm", error: { kind: c.kind } });
          if (c.path) expect(r.errorJson.error.path, label).toBe(c.path);
        } else {
          expect(r.stderr, label).toMatch(/^Error: /);
        }
      }
    }
    expect(digestTree(f.root), `${c.name}: the staging root changed`).toBe(before);
  });
});
