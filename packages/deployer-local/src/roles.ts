// How the local deployer starts its two kinds of process, the runtime (one per revision) and the
// router. From a source checkout or an npm install they are scripts of the installed packages,
// run by the node that runs op. The single-file `op` executable has neither node nor
// node_modules: there op is the program of both processes, started with `--greentic-role
// runtime|router`, and its entry hands that argv to runRole() before anything of the CLI loads.
// A role can also be a program of its own (GREENTIC_RUNTIME_BIN=/path/greentic-runtime-linux-x64).
import { createRequire } from "node:module";
import { GreenticError } from "@greentic/deploy-spec/errors";

/** The first argument that makes the single-file `op` run a role instead of the CLI. */
export const ROLE_FLAG = "--greentic-role";

export type LocalRole = "runtime" | "router";

/** A process to start: its argv, and the path its /proc/PID/cmdline must hold to be recognised as ours. */
export interface RoleCommand {
  argv: string[];
  bin: string;
}

/** True inside a Node single-executable application (the released `op`). */
export function isSingleExecutable(): boolean {
  // Through require: loaded only when asked, and out of reach of any bundler that strips the
  // `node:` prefix (`sea` exists only with it).
  const { isSea } = createRequire(import.meta.url)("node:sea") as typeof import("node:sea");
  return isSea();
}

/** The executable that runs `role` itself: the single-file `op` this process runs from. */
export function selfRoleCommand(role: LocalRole): RoleCommand {
  return { argv: [process.execPath, ROLE_FLAG, role], bin: process.execPath };
}

/**
 * The command that runs `bin`: a JavaScript file runs under this process's node, anything else
 * is a program of its own. `variable` names where `bin` came from, for the error.
 */
export function roleCommandFor(bin: string, variable: string): RoleCommand {
  if (!/\.[cm]?js$/.test(bin)) return { argv: [bin], bin };
  if (isSingleExecutable())
    throw new GreenticError(
      "precondition-failed",
      `${variable} ${bin} is a script, and this op has no node to run it`,
      {
        hint: `unset ${variable} (the single-file op runs the process itself) or name an executable, e.g. greentic-runtime-linux-x64`,
        details: { code: "role-script-in-executable", variable, bin },
      },
    );
  return { argv: [process.execPath, bin], bin };
}

/** Runs `role` in this process (the single-file `op` started with ROLE_FLAG); `args` follow the role name. */
export async function runRole(role: string | undefined, args: readonly string[]): Promise<void> {
  if (role === "runtime") {
    (await import("@greentic/runtime/main")).runRuntime();
    return;
  }
  if (role === "router") {
    await (await import("./local-router-main.js")).runLocalRouter(args, selfRoleCommand("router").argv);
    return;
  }
  process.stderr.write(`${ROLE_FLAG} takes runtime or router, not ${JSON.stringify(role ?? "")}\n`);
  process.exit(2);
}
