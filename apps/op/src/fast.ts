import { lstat, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  LOCAL_PROCESS_DEPLOYER_KINDS,
  envRouterInfo,
  readLocalRouterStatus,
} from "@greentic/deployer-local/local-router-status";
import {
  listVerifiedEnvironments,
  readVerifiedEnvironment,
  resolveStoreRoot,
} from "@greentic/environment-store/fast-read";
import type { EnvShowResult } from "@greentic/operations";
import { humanOutput, successEnvelope } from "./lib/output.js";
import { envListText, envShowText } from "./lib/render-env.js";

/**
 * The read-only fast path of `bin/run.js`: `op env show <id> [--json] [--store-root D]` and
 * `op env list [--json] [--store-root D]` answered without oclif and zod, from documents the
 * store vouched for at commit (`@greentic/environment-store/fast-read`), printed by the same
 * renderers as the commands. Whatever it cannot answer exactly (another argv shape, a document
 * without a matching record, an error of any kind) returns false and oclif runs the command
 * as usual, so there is one error path and one validation path.
 */

/** The argv shapes the fast path serves. */
export interface FastInvocation {
  verb: "show" | "list";
  envId?: string;
  json: boolean;
  storeRoot?: string;
}

// Narrower than what the libraries accept (checkEnvId, the store's segment check): an id
// outside it simply takes the full path, which reports whatever is wrong with it.
const PLAIN_ENV_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/u;

/** The invocation when `argv` (after `op`) is exactly one of the served shapes, else undefined. */
export function parseFastArgv(argv: readonly string[]): FastInvocation | undefined {
  if (argv[0] !== "env" || (argv[1] !== "show" && argv[1] !== "list")) return undefined;
  const out: FastInvocation = { verb: argv[1], json: false };
  const positionals: string[] = [];
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") {
      if (out.json) return undefined;
      out.json = true;
    } else if (arg === "--store-root" || arg.startsWith("--store-root=")) {
      const value = arg === "--store-root" ? argv[++i] : arg.slice("--store-root=".length);
      if (out.storeRoot !== undefined || value === undefined || value === "" || value.startsWith("-")) return undefined;
      out.storeRoot = value;
    } else if (arg.startsWith("-")) {
      return undefined;
    } else {
      positionals.push(arg);
    }
  }
  if (out.verb === "list") return positionals.length === 0 ? out : undefined;
  if (positionals.length !== 1 || !PLAIN_ENV_ID.test(positionals[0]!)) return undefined;
  out.envId = positionals[0]!;
  return out;
}

/** Thrown (and caught in {@link runFast}) when only the full path can answer. */
class Fallback extends Error {}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

/**
 * `op env show`'s router, as `environmentRouter` in operations computes it, for the built-in
 * local-process deployer only (any other binding, or plugins that might serve it, fall back).
 */
async function routerOf(
  root: string,
  envId: string,
  env: EnvShowResult["environment"],
): Promise<EnvShowResult["router"]> {
  const binding = env.packs.find((p) => p.slot === "deployer");
  if (binding === undefined) return null;
  if (
    (process.env.GREENTIC_ENV_PACK_PLUGINS ?? "").trim() !== "" ||
    !LOCAL_PROCESS_DEPLOYER_KINDS.includes(binding.kind)
  )
    throw new Fallback();
  // The store hands handlers their data area only through real directories: a link or a
  // file on the way is its error to report.
  let dir = root;
  for (const part of [envId, "data", "router"]) {
    dir = join(dir, part);
    const stat = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (stat === undefined) break;
    if (!stat.isDirectory()) throw new Fallback();
  }
  return envRouterInfo(await readLocalRouterStatus(join(root, envId, "data", "router"), readJson));
}

/** What the fast path would print for `invocation`, or undefined when it cannot answer. */
export async function fastOutput(invocation: FastInvocation): Promise<string | undefined> {
  const root = resolveStoreRoot(invocation.storeRoot);
  try {
    if (invocation.verb === "list") {
      const environments = await listVerifiedEnvironments(root);
      if (environments === undefined) return undefined;
      return invocation.json
        ? successEnvelope("list", "env", { environments })
        : humanOutput(envListText(environments));
    }
    const envId = invocation.envId!;
    const loaded = await readVerifiedEnvironment(root, envId);
    if (loaded === undefined) return undefined;
    const router = await routerOf(root, envId, loaded.environment);
    const shown: EnvShowResult = {
      environment: loaded.environment,
      runtime: loaded.runtime ?? null,
      etag: loaded.etag,
      generation: loaded.generation,
      router,
    };
    return invocation.json ? successEnvelope("show", "env", shown) : humanOutput(envShowText(shown));
  } catch {
    return undefined;
  }
}

/** Serves `argv` when it can (prints and returns true); false means: run oclif. */
export async function runFast(argv: readonly string[]): Promise<boolean> {
  const invocation = parseFastArgv(argv);
  if (invocation === undefined) return false;
  const out = await fastOutput(invocation);
  if (out === undefined) return false;
  process.stdout.write(out);
  return true;
}
