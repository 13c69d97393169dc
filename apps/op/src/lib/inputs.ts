/**
 * THE table of how each mutating verb's answers fields are given on the command line. It is
 * used three ways: `MutatingCommand.payload()` builds the payload from it (no command copies
 * the flag -> field block), error messages name the flag or argument instead of the payload
 * field when the value came from the command line, and `test/inputs.test.ts` fails when a
 * message names a payload field that has a flag here. No imports: it is read on every run.
 */

/** How one answers field is given on the command line. */
export interface FieldInput {
  /** How messages name it: `--deployment`, `ENV`, `REV=WEIGHT`. */
  shown: string;
  /** The flag (without dashes) whose value is the field, as is. */
  flag?: string;
  /** The positional argument (its key in `args`) whose value is the field, as is. */
  arg?: string;
  /**
   * A short reference that is resolved against the store before the payload is validated:
   * `deployment` (id, id prefix or bundle id) or `revision` (id, prefix, @N, latest, previous, stable, tag).
   */
  ref?: "deployment" | "revision";
  /** A reference that may stay absent (the verb then means all of them), never defaulted. */
  optional?: true;
  /** Computed by the command from other input (e.g. `--value-stdin`, `--host`): only named here. */
  computed?: true;
}

const flag = (name: string, extra: Partial<FieldInput> = {}): FieldInput => ({
  shown: `--${name}`,
  flag: name,
  ...extra,
});
const computed = (shown: string): FieldInput => ({ shown, computed: true });
const ENV: FieldInput = { shown: "ENV", arg: "env" };
const KEY = flag("idempotency-key");
const DEPLOYMENT = flag("deployment", { ref: "deployment" });
const REV: FieldInput = { shown: "REV", arg: "revision", ref: "revision" };
const SECRET_NAME: FieldInput = { shown: "NAME", arg: "name" };

/** answers key (`"<noun> <verb>"`) -> answers field -> command-line input. */
export const FIELD_INPUTS: Readonly<Record<string, Readonly<Record<string, FieldInput>>>> = {
  "env create": {
    environment_id: ENV,
    name: flag("name"),
    region: flag("region"),
    tenant_org_id: flag("tenant-org"),
    listen_addr: flag("listen-addr"),
    public_base_url: flag("public-url"),
    idempotency_key: KEY,
  },
  "env update": {
    environment_id: ENV,
    // Tri-state fields: the command wraps the flag value as {"value": ...}.
    name: computed("--name"),
    region: computed("--region"),
    tenant_org_id: computed("--tenant-org"),
    public_base_url: computed("--public-url"),
    idempotency_key: KEY,
  },
  "env init": {
    environment_id: ENV,
    public_base_url: flag("public-url"),
    deployer: flag("deployer"),
    spec_path: computed("--spec"),
    ssh: flag("ssh"),
    known_hosts: computed("--known-hosts"),
    identity: computed("--identity"),
    idempotency_key: KEY,
  },
  "env-packs add": {
    environment_id: ENV,
    slot: flag("slot"),
    kind: flag("kind"),
    pack_ref: flag("pack-ref"),
    answers_ref: flag("answers-ref"),
    idempotency_key: KEY,
  },
  "env-packs update": {
    environment_id: ENV,
    slot: flag("slot"),
    kind: flag("kind"),
    pack_ref: flag("pack-ref"),
    answers_ref: flag("answers-ref"),
    idempotency_key: KEY,
  },
  "env-packs remove": { environment_id: ENV, slot: flag("slot"), idempotency_key: KEY },
  "env-packs rollback": { environment_id: ENV, slot: flag("slot"), idempotency_key: KEY },
  "bundles add": {
    environment_id: ENV,
    bundle_id: flag("bundle-id"),
    customer_id: flag("customer-id"),
    route_binding: computed("--host/--path-prefix"),
    idempotency_key: KEY,
  },
  "bundles update": { environment_id: ENV, deployment_id: DEPLOYMENT, status: flag("status"), idempotency_key: KEY },
  "bundles remove": { environment_id: ENV, deployment_id: DEPLOYMENT, idempotency_key: KEY },
  "revisions stage": {
    environment_id: ENV,
    deployment_id: DEPLOYMENT,
    bundle_path: flag("bundle"),
    revision_id: flag("revision-id"),
    idempotency_key: KEY,
  },
  "revisions warm": { environment_id: ENV, revision_id: REV, idempotency_key: KEY },
  "revisions drain": { environment_id: ENV, revision_id: REV, idempotency_key: KEY },
  "revisions archive": { environment_id: ENV, revision_id: REV, idempotency_key: KEY },
  "revisions tag": {
    environment_id: ENV,
    revision_id: REV,
    tag: { shown: "TAG", arg: "tag" },
    deployment_id: flag("deployment", { ref: "deployment", optional: true }),
    move: flag("move"),
    idempotency_key: KEY,
  },
  "revisions untag": {
    environment_id: ENV,
    tag: { shown: "TAG", arg: "tag" },
    deployment_id: flag("deployment", { ref: "deployment", optional: true }),
    idempotency_key: KEY,
  },
  "revisions prune": {
    environment_id: ENV,
    deployment_id: flag("deployment", { ref: "deployment", optional: true }),
    keep: flag("keep"),
    idempotency_key: KEY,
  },
  "traffic set": {
    environment_id: ENV,
    deployment_id: DEPLOYMENT,
    entries: computed("REV=WEIGHT"),
    idempotency_key: KEY,
    updated_by: flag("updated-by"),
  },
  "traffic rollback": {
    environment_id: ENV,
    deployment_id: DEPLOYMENT,
    updated_by: flag("updated-by"),
    idempotency_key: KEY,
  },
  "config set": {
    environment_id: ENV,
    name: flag("name"),
    region: flag("region"),
    tenant_org_id: flag("tenant-org"),
    listen_addr: flag("listen-addr"),
    public_base_url: flag("public-url"),
    gui_enabled: flag("gui"),
    keep_revisions: flag("keep-revisions"),
    idempotency_key: KEY,
  },
  "secrets put": { environment_id: ENV, name: SECRET_NAME, value: computed("--value-stdin"), idempotency_key: KEY },
  "secrets rotate": { environment_id: ENV, name: SECRET_NAME, value: computed("--value-stdin"), idempotency_key: KEY },
  "secrets delete": { environment_id: ENV, name: SECRET_NAME, idempotency_key: KEY },
  "deploy run": {
    environment_id: flag("env"),
    bundle_path: flag("bundle"),
    bundle_id: flag("bundle-id"),
    customer_id: flag("customer-id"),
    new_deployment: computed("--new-deployment"),
    route_binding: computed("--host/--path-prefix"),
    traffic_bps: computed("--traffic"),
    idempotency_key: KEY,
  },
};

/**
 * Names that libraries use for options a flag sets (not answers fields): a message must not
 * show them to a user of the CLI. Key: the library's word; value: the flag.
 */
export const LIBRARY_WORDS: Readonly<Record<string, string>> = {
  "{reveal: true}": "--reveal",
  allowLeaks: "--allow-leaks",
  sourceDir: "SOURCE_DIR",
};

/** The environment a command means when none is given: `$GREENTIC_ENV`, else `local`. */
export function defaultEnv(): string {
  const env = process.env.GREENTIC_ENV;
  return env === undefined || env === "" ? "local" : env;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Rewrites a message for a user of the command line: `field` (alone or at the head of a
 * path such as `entries.0.revision_id`) becomes its flag or argument for the fields in
 * `fromCli`, a leading `flags: ` source goes, and library words become their flags.
 */
export function inUserWords(message: string, fields: ReadonlyMap<string, string>, source?: string): string {
  let text = message;
  if (source === "flags" && text.startsWith("flags: ")) text = text.slice("flags: ".length);
  // A `code span` is a command to type as it is (`op revisions tag --help`): never rewritten.
  let out = text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith("`") && part.endsWith("`") && part.length > 1 ? part : rewrite(part, fields)))
    .join("");
  for (const [word, shown] of Object.entries(LIBRARY_WORDS)) out = out.split(word).join(shown);
  return out;
}

function rewrite(text: string, fields: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [field, shown] of fields) {
    const f = escapeRegExp(field);
    // An item of a list field (`entries.1.revision_id`) is the n-th one typed (`REV=WEIGHT #2`).
    out = out.replace(
      new RegExp(`(?<![\\w.-])${f}\\.(\\d+)(\\.\\w+)*`, "g"),
      (_m, n: string) => `${shown} #${Number(n) + 1}`,
    );
    // The field as a word of its own, not inside another identifier or path.
    out = out.replace(new RegExp(`(?<![\\w.-])${f}(?![\\w-])`, "g"), shown);
  }
  return out;
}
