import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isErrorKind } from "@greentic/deploy-spec";
import {
  envFileLine,
  escapeSpecifiers,
  execCommandLine,
  pathListItem,
  renderUnitFile,
  systemdEscapePath,
} from "./unit-file.js";

describe("renderUnitFile", () => {
  it("keeps section order, entry order and repeated keys", () => {
    const text = renderUnitFile({
      header: ["Generated.", ""],
      sections: [
        { name: "Unit", entries: [["Description", "x"]] },
        {
          name: "Container",
          entries: [
            ["Volume", "/a:/a:ro"],
            ["Volume", "/b:/b"],
            ["Image", "i"],
          ],
        },
      ],
    });
    expect(text).toBe(
      "# Generated.\n#\n\n[Unit]\nDescription=x\n\n[Container]\nVolume=/a:/a:ro\nVolume=/b:/b\nImage=i\n",
    );
  });

  it("refuses newlines in values and bad keys", () => {
    const bad = () =>
      renderUnitFile({
        sections: [{ name: "Service", entries: [["ExecStart", "/bin/true\nExecStartPost=/bin/evil"]] }],
      });
    expect(bad).toThrow(/contains a newline/);
    try {
      bad();
    } catch (e) {
      expect(isErrorKind(e, "invalid-argument")).toBe(true);
    }
    expect(() => renderUnitFile({ sections: [{ name: "Service", entries: [["Exec Start", "x"]] }] })).toThrow(
      /bad unit key/,
    );
  });
});

describe("escaping", () => {
  it("quotes exec words and escapes specifiers and variables", () => {
    expect(execCommandLine(["/usr/bin/node", "/srv/a b/run.js", "100%", "$HOME", 'say "hi"', ""])).toBe(
      '/usr/bin/node "/srv/a b/run.js" 100%% "$$HOME" "say \\"hi\\"" ""',
    );
    expect(() => execCommandLine(["node", "x"])).toThrow(/absolute path/);
    expect(escapeSpecifiers("/srv/%i")).toBe("/srv/%%i");
    expect(pathListItem("/srv/with space")).toBe('"/srv/with space"');
  });

  it("env file lines refuse values that docker --env-file and systemd would read differently", () => {
    expect(envFileLine("GREENTIC_STATE_DIR", "/var/lib/greentic/a/state")).toBe(
      "GREENTIC_STATE_DIR=/var/lib/greentic/a/state",
    );
    expect(() => envFileLine("GREENTIC_X", "a b")).toThrow(/must not contain spaces/);
    expect(() => envFileLine("lower", "x")).toThrow(/bad environment variable name/);
  });

  const paths = [
    "/mnt/greentic/bundles/acme-prod",
    "/",
    "/srv//a/",
    "/srv/.hidden/x",
    "/srv/a b/ü",
    "/srv/a:b_c.d",
    "/srv/a\\b",
  ];
  it("systemdEscapePath matches known answers", () => {
    expect(systemdEscapePath("/mnt/greentic/bundles/acme-prod")).toBe("mnt-greentic-bundles-acme\\x2dprod");
    expect(systemdEscapePath("/")).toBe("-");
    expect(systemdEscapePath("/srv//a/")).toBe("srv-a");
  });

  const escape = spawnSync("systemd-escape", ["--path", "/x"]);
  it.skipIf(escape.status !== 0 && !process.env.CI)("systemdEscapePath agrees with systemd-escape --path", () => {
    for (const p of paths) {
      const real = spawnSync("systemd-escape", ["--path", p], { encoding: "utf8" }).stdout.trim();
      expect(systemdEscapePath(p), p).toBe(real);
    }
  });
});
