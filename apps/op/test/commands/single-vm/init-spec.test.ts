import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDeploymentSpec } from "@greentic/deploy-spec/deployment-spec-text";
import { op, tempDir } from "../../helpers.js";

describe("op single-vm init-spec", () => {
  it.each(["native", "container"])(
    "prints a %s spec that parses with parseDeploymentSpec and spells out the defaults",
    (mode) => {
      const r = op(["single-vm", "init-spec", "--name", "shop", "--mode", mode]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^# Greentic single-VM deployment spec/);
      const parsed = parseDeploymentSpec(r.stdout, { source: "init-spec" });
      if (!parsed.ok) throw new Error(parsed.summary);
      expect(parsed.value.metadata.name).toBe("shop");
      expect(parsed.value.spec.runtime.admin.bind).toBe("127.0.0.1:8433");
      expect(parsed.value.spec.storage.stateDir).toBe("/var/lib/greentic/shop/state");
      expect(mode === "native" ? parsed.value.spec.runtime.binary : parsed.value.spec.runtime.image).toBeTruthy();
    },
  );

  it("--out writes the file, refuses to overwrite it (exit 3) unless --force", () => {
    const dir = tempDir();
    const out = join(dir, "deployment.yaml");
    const first = op(["single-vm", "init-spec", "--out", out]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain(`Wrote ${out}`);
    expect(parseDeploymentSpec(readFileSync(out, "utf8")).ok).toBe(true);

    writeFileSync(out, "# mine\n");
    const again = op(["single-vm", "init-spec", "--out", out, "--json"]);
    expect(again.status).toBe(3);
    expect(again.stdout).toBe("");
    expect(again.errorJson.error).toMatchObject({ kind: "conflict", path: out });
    expect(again.errorJson.error.hint).toContain("--force");
    expect(readFileSync(out, "utf8")).toBe("# mine\n");

    const forced = op(["single-vm", "init-spec", "--out", out, "--force", "--json"]);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.json).toMatchObject({ op: "init-spec", noun: "single-vm", result: { out } });
    expect(readFileSync(out, "utf8")).toBe(forced.json.result.spec);
  });

  it("refuses a name that would make an invalid spec (exit 2)", () => {
    const r = op(["single-vm", "init-spec", "--name", "Not A Name", "--json"]);
    expect(r.status).toBe(2);
    expect(r.errorJson.error.kind).toBe("invalid-argument");
    expect(r.errorJson.error.message).toContain("--name");
  });
});
