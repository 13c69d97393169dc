import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Config } from "@oclif/core";

/** What the store holds, for completion: cached (30 s) so that a Tab does not load the store each time. */
interface Known {
  at: number;
  environments: string[];
  deployments: Record<string, string[]>;
  revisions: Record<string, string[]>;
}

const TTL_MS = 30_000;

function cacheFile(storeRoot: string | undefined): string {
  const home = process.env.GREENTIC_HOME ?? join(homedir(), ".greentic");
  const key = Buffer.from(storeRoot ?? "default").toString("base64url");
  return join(home, "cache", "completion", `${key}.json`);
}

async function known(storeRoot: string | undefined): Promise<Known> {
  const file = cacheFile(storeRoot);
  try {
    const cached = JSON.parse(await readFile(file, "utf8")) as Known;
    if (Date.now() - cached.at < TTL_MS) return cached;
  } catch {}
  const { createOperations, envList, bundlesList, revisionsList } = await import("@greentic/operations");
  const ctx = createOperations({ storeRoot });
  const out: Known = { at: Date.now(), environments: [], deployments: {}, revisions: {} };
  for (const e of await envList(ctx)) {
    if (e.status !== "ok") continue;
    out.environments.push(e.environment_id);
    try {
      const b = await bundlesList(ctx, e.environment_id);
      out.deployments[e.environment_id] = [...new Set(b.bundles.flatMap((d) => [d.bundle_id, d.deployment_id]))];
      const r = await revisionsList(ctx, e.environment_id);
      out.revisions[e.environment_id] = [
        "latest",
        "previous",
        "stable",
        ...[...new Set(r.revisions.map((v) => `@${v.sequence}`))],
        ...[...new Set(r.revisions.flatMap((v) => v.tags ?? []))],
        ...r.revisions.map((v) => v.revision_id),
      ];
    } catch {}
  }
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, JSON.stringify(out));
    await rename(`${file}.tmp`, file);
  } catch {}
  return out;
}

/**
 * The candidates for word `index` of `words` (the words after `op`, as bash splits them):
 * command names, flags of the command, a flag's values (its options, environments,
 * deployments), or the command's positionals (ENV, REV, REV=WEIGHT).
 */
export async function completionWords(
  config: Config,
  words: readonly string[],
  index: number,
  storeRoot: string | undefined,
): Promise<string[]> {
  const current = words[index - 1] ?? "";
  const before = words.slice(0, Math.max(0, index - 1));
  const ids = config.commands.filter((c) => !c.hidden).map((c) => c.id.split(":"));
  // The command: the longest run of leading words that names one.
  let command: (typeof config.commands)[number] | undefined;
  let used = 0;
  for (let n = before.length; n > 0 && command === undefined; n--) {
    command = config.findCommand(before.slice(0, n).join(":"));
    if (command !== undefined) used = n;
  }
  const match = (list: Iterable<string>) => [...new Set(list)].filter((w) => w.startsWith(current)).sort();
  if (command === undefined) {
    // A command name: the next word after what is typed so far.
    return match(
      ids
        .filter((id) => before.every((w, i) => id[i] === w) && id.length > before.length)
        .map((id) => id[before.length]!),
    );
  }
  const env = (() => {
    const e = before.indexOf("--env");
    if (e !== -1 && before[e + 1] !== undefined) return before[e + 1]!;
    const first = before[used];
    return first !== undefined && !first.startsWith("-") && !first.includes("=")
      ? first
      : process.env.GREENTIC_ENV || "local";
  })();
  const previous = before.at(-1);
  const flags = command.flags ?? {};
  if (previous?.startsWith("--") && flags[previous.slice(2)]?.type === "option") {
    const name = previous.slice(2);
    const f = flags[name] as { options?: string[] };
    if (f.options) return match(f.options);
    if (name === "deployment") return match((await known(storeRoot)).deployments[env] ?? []);
    if (name === "env") return match((await known(storeRoot)).environments);
    return [];
  }
  if (current.startsWith("-")) return match(Object.keys(flags).map((f) => `--${f}`));
  const positionals = before.slice(used).filter((w, i, all) => !w.startsWith("-") && !all[i - 1]?.startsWith("--"));
  const argNames = Object.keys(command.args ?? {});
  const k = await known(storeRoot);
  const revisions = k.revisions[env] ?? [];
  if (command.id === "traffic:set") {
    const eq = current.indexOf("=");
    if (eq !== -1) return [];
    return [...(positionals.length === 0 ? match(k.environments) : []), ...match(revisions).map((r) => `${r}=`)];
  }
  if (argNames[0] === "env" && positionals.length === 0)
    return argNames.includes("revision") ? [...match(k.environments), ...match(revisions)] : match(k.environments);
  if (argNames.includes("revision")) return match(revisions);
  if (argNames.includes("deployment")) return match(k.deployments[env] ?? []);
  return [];
}
