import { link, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Args, Errors, Flags, type Command } from "@oclif/core";
import type { DeploymentSpec } from "@greentic/deploy-spec";
import { OpCommand } from "../../lib/base.js";
import { CliInputError } from "../../lib/errors.js";

// The `op single-vm` verbs share their spec loading and flags; they live here (the command
// directory holds only command modules) and the other verbs import them.

/** `--spec FILE`: the DeploymentSpec every verb but init-spec reads. */
export const specFlag = Flags.string({
  char: "s",
  description: "DeploymentSpec file, YAML or JSON (detected from the content); - reads stdin. `op single-vm init-spec` writes one.",
  helpValue: "FILE",
});

/** The spec as a positional argument (same as `--spec`). */
export const specArg = Args.string({ description: "DeploymentSpec file (same as --spec)." });

/** `--root DIR`: staging. */
export const rootFlag = Flags.string({
  description: "Staging root: render every file under DIR (DIR/etc/systemd/system/..., DIR/var/lib/greentic/...) and execute nothing; commands are listed instead. For review, CI and image baking.",
  helpValue: "DIR",
});

/** `--oci-runtime`: container mode on hosts where podman's default OCI runtime fails. */
export const ociRuntimeFlag = Flags.string({ description: "Container mode: OCI runtime passed to podman (--runtime), e.g. runc.", helpValue: "NAME" });

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : (err as Error).message;
}

/** Reads a spec file (`-` = stdin) as text; an unreadable file is a usage error naming it. */
export async function readSpecText(file: string): Promise<{ source: string; text: string }> {
  const source = file === "-" ? "<stdin>" : file;
  try {
    return { source, text: file === "-" ? await readStdin() : await readFile(file, "utf8") };
  } catch (err) {
    throw new CliInputError("invalid-argument", `${source}: cannot read spec file: ${readProblem(err)}`, "pass an existing DeploymentSpec file with --spec (or - for stdin); `op single-vm init-spec --out FILE` writes one", source);
  }
}

/**
 * Parses and validates a DeploymentSpec. Malformed YAML/JSON is `answers-parse`, any other
 * problem `validation`; both exit 2 with the file and the field path in the message.
 */
export async function parseSpecText(source: string, text: string): Promise<DeploymentSpec> {
  const { parseDeploymentSpec } = await import("@greentic/deploy-spec");
  const parsed = parseDeploymentSpec(text, { source });
  if (parsed.ok) return parsed.value;
  const first = parsed.issues[0];
  const err = new CliInputError(
    first?.code === "parse" ? "answers-parse" : "validation",
    parsed.summary,
    `fix ${first?.path ? `${first.path} in ` : ""}${source}; \`op single-vm init-spec\` prints a commented spec with every default`,
    first?.path || source,
  );
  Object.assign(err, { issues: parsed.issues });
  throw err;
}

/** Writes a file atomically (temp file in the same directory, then rename). */
export async function writeAtomic(file: string, content: string, options: { exclusive?: boolean } = {}): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}`);
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    if (options.exclusive) {
      // link() fails when the target exists: a file that appeared meanwhile is never replaced.
      await link(tmp, file);
    } else {
      await rename(tmp, file);
    }
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Base of the `op single-vm` verbs: the spec (flag or positional) and the staging root. */
export abstract class SingleVmCommand<T extends typeof Command = typeof Command> extends OpCommand<T> {
  /** The spec file named by `--spec` or the positional argument (usage error when neither or both). */
  protected specFile(): string {
    const flag = (this.flags as { spec?: string }).spec;
    const arg = (this.args as { spec?: string }).spec;
    if (flag !== undefined && arg !== undefined && flag !== arg) this.usage(`the spec is given twice: --spec ${flag} and ${arg}`, "give the spec once, with --spec FILE");
    const file = flag ?? arg;
    if (file === undefined) this.usage(`op ${this.id?.replace(/:/g, " ")} needs a DeploymentSpec: --spec FILE`, "`op single-vm init-spec --out deployment.yaml` writes a commented one to start from");
    return file;
  }

  /** Reads and validates the spec; nothing is looked up before this succeeds. */
  protected async spec(): Promise<DeploymentSpec> {
    const { source, text } = await readSpecText(this.specFile());
    return parseSpecText(source, text);
  }

  /** `--root` as an absolute path; `/` is refused (it would be the real host). */
  protected root(): string | undefined {
    const given = (this.flags as { root?: string }).root;
    if (given === undefined) return undefined;
    if (given === "") this.usage("--root needs a directory");
    const root = resolve(given);
    if (root === "/") this.usage("--root / is the real host, not a staging root", "drop --root to act on this host, or pass a staging directory");
    return root;
  }

  /** Options shared by the adapter's verbs: staging root and OCI runtime. */
  protected adapterOptions(): { root?: string; ociRuntime?: string } {
    const root = this.root();
    const ociRuntime = (this.flags as { "oci-runtime"?: string })["oci-runtime"];
    return { ...(root === undefined ? {} : { root }), ...(ociRuntime === undefined ? {} : { ociRuntime }) };
  }

  /** One line saying nothing was executed, for staging runs. */
  protected stagingNote(root: string | undefined): string {
    return root === undefined ? "" : `Staging root ${root}: files rendered there, nothing executed.\n`;
  }
}

export default class SingleVmPlan extends SingleVmCommand<typeof SingleVmPlan> {
  static override summary = "Show what apply would change on this host (or a staging root), without changing anything.";
  static override description = `Observes the host (generated files and their hashes, unit states, the bundle mount, certificates, the state file) and lists the ordered actions apply would take, each with its reason. Nothing is written except the --out file.

--out saves the plan with a fingerprint of the observed host and the spec and bundle digests; \`op single-vm apply PLAN\` applies exactly that plan and refuses it (exit 3, "plan is stale: ...") when the host, spec or bundle changed since.

Exit codes: 0 ok, 2 invalid spec or usage, 4 the bundle or runtime file named by the spec does not exist. With --detailed-exitcode the codes follow Terraform instead: 0 no changes, 2 changes pending, 1 any error (invalid input included; the error's kind is still in the message and in the --json error envelope).

Under --root, unit states cannot be observed, so the mount and service restarts are always planned.`;
  static override examples = [
    { description: "Preview the changes on this host", command: "<%= config.bin %> single-vm plan --spec /etc/greentic/acme/deployment.yaml" },
    { description: "Save the plan, review it, then apply exactly that", command: "<%= config.bin %> single-vm plan --spec deployment.yaml --out plan.json && <%= config.bin %> single-vm apply plan.json" },
    { description: "CI gate: exit 2 when the host differs from the spec", command: "<%= config.bin %> single-vm plan --spec deployment.yaml --detailed-exitcode" },
    { description: "Render into a staging root (executes nothing)", command: "<%= config.bin %> single-vm plan --spec deployment.yaml --root ./stage --json" },
  ];
  static override args = { spec: specArg };
  static override flags = {
    spec: specFlag,
    out: Flags.string({ char: "o", description: "Save the plan (JSON) to FILE for `op single-vm apply FILE`.", helpValue: "FILE" }),
    "detailed-exitcode": Flags.boolean({ description: "Exit 0 when there are no changes, 2 when changes are pending, 1 on any error (Terraform's convention)." }),
    root: rootFlag,
    "oci-runtime": ociRuntimeFlag,
  };

  override async run(): Promise<void> {
    const spec = await this.spec();
    const options = this.adapterOptions();
    const { planDeployment, savePlan } = await import("@greentic/adapter-single-vm");
    const plan = await planDeployment(spec, options);
    if (this.flags.out !== undefined) await writeAtomic(this.flags.out, savePlan(plan));
    const result = this.flags.out === undefined ? plan : { ...plan, savedTo: this.flags.out };
    this.done(result, () => {
      let out = this.stagingNote(options.root) + `${plan.summary}\n`;
      if (this.flags.out !== undefined) out += `Saved the plan to ${this.flags.out}; apply it with: op single-vm apply ${this.flags.out}${options.root ? ` --root ${options.root}` : ""}\n`;
      return out;
    });
    if (this.flags["detailed-exitcode"]) process.exitCode = plan.exitCode;
  }

  /** Under --detailed-exitcode every error exits 1: 2 means "changes pending" there. */
  override async catch(err: Error & { oclif?: { exit?: number } }): Promise<never> {
    try {
      return await super.catch(err);
    } catch (exit) {
      const detailed = this.argv.slice(0, this.argv.includes("--") ? this.argv.indexOf("--") : undefined).includes("--detailed-exitcode");
      if (detailed && exit instanceof Errors.ExitError && exit.oclif.exit !== 0) {
        process.exitCode = 1;
        Errors.exit(1);
      }
      throw exit;
    }
  }
}
