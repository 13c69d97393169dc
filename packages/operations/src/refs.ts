import {
  GreenticError,
  REVISION_TAG_PATTERN,
  ULID_PATTERN,
  type BundleDeployment,
  type Environment,
  type Revision,
} from "@greentic/deploy-spec/documents";
import { checkEnvArgument, type OperationsContext } from "./context.js";

/**
 * Short references to revisions and deployments, so that operators need not copy 26-character
 * ULIDs. A revision reference is one of:
 *
 * - a full revision id (any case);
 * - a unique prefix of at least {@link MIN_PREFIX} characters of one (any case);
 * - `@N`: the revision with sequence number N of the deployment;
 * - `latest`: the deployment's non-archived revision with the highest sequence;
 * - `previous`: the non-archived revision staged just before `latest`;
 * - `stable`: the revision holding the most traffic in the deployment's split;
 * - a tag given with `op revisions tag` (any case), unique within its deployment.
 *
 * A deployment reference is a full deployment id, a unique id prefix, or a bundle id that
 * names exactly one deployment. An ambiguous reference is `invalid-argument` (exit 2) listing
 * the candidates; so is a tag no revision has (listing the tags there are, as a misspelt word
 * is a usage error). Any other reference that matches nothing is `not-found`.
 */
export const MIN_PREFIX = 6;

/**
 * Crockford base32 as typed by people (upper-cased first), starting like every ULID with 0-7,
 * which also keeps words such as "canary" from reading as prefixes.
 */
const PREFIX_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]*$/;

/** The words a revision reference may be besides an id, a prefix or `@N`. */
export const REVISION_REF_WORDS = ["latest", "previous", "stable"] as const;

/** What a revision reference asks for, before it is looked up. */
export type RevisionRefQuery =
  | { kind: "id"; id: string }
  | { kind: "prefix"; prefix: string }
  | { kind: "sequence"; sequence: number }
  | { kind: "word"; word: (typeof REVISION_REF_WORDS)[number] }
  | { kind: "tag"; tag: string };

/** Where a reference came from, for messages: the flag or argument the user typed it in. */
export interface RefOrigin {
  /** e.g. `--deployment`, `REV`, `entries.0`; default "revision" / "deployment". */
  label?: string | undefined;
}

function quote(value: string): string {
  return JSON.stringify(value);
}

/** Parses a revision reference without looking anything up: `invalid-argument` when it cannot be one. */
export function parseRevisionRef(ref: string, origin: RefOrigin = {}): RevisionRefQuery {
  const label = origin.label ?? "revision";
  const value = ref.trim();
  if ((REVISION_REF_WORDS as readonly string[]).includes(value.toLowerCase()))
    return { kind: "word", word: value.toLowerCase() as (typeof REVISION_REF_WORDS)[number] };
  if (value.startsWith("@")) {
    const n = value.slice(1);
    if (/^[0-9]+$/.test(n) && Number(n) >= 1 && Number.isSafeInteger(Number(n)))
      return { kind: "sequence", sequence: Number(n) };
    throw refSyntaxError(label, ref);
  }
  const upper = value.toUpperCase();
  if (ULID_PATTERN.test(upper)) return { kind: "id", id: upper };
  if (upper.length >= MIN_PREFIX && upper.length < 26 && PREFIX_PATTERN.test(upper))
    return { kind: "prefix", prefix: upper };
  // Tags start with a letter, ids and prefixes with a digit: the two never overlap.
  if (REVISION_TAG_PATTERN.test(value.toLowerCase())) return { kind: "tag", tag: value.toLowerCase() };
  throw refSyntaxError(label, ref);
}

function refSyntaxError(label: string, ref: string): GreenticError {
  return new GreenticError("invalid-argument", `${label}: ${quote(ref)} is not a revision reference`, {
    path: label,
    hint: `give a revision id, a unique prefix of at least ${MIN_PREFIX} of its characters, @N (its sequence number), latest, previous, stable or a tag`,
    details: { reference: ref },
  });
}

function describeRevision(r: Revision): string {
  return `${r.revision_id} (${r.bundle_id} @${r.sequence}, ${r.lifecycle})`;
}

/** `canary -> 01J… (hello @3)` for each tag of the given revisions, sorted by tag. */
function describeTags(revisions: readonly Revision[]): string[] {
  return revisions
    .flatMap((r) => (r.tags ?? []).map((tag) => ({ tag, r })))
    .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : a.r.sequence - b.r.sequence))
    .map(({ tag, r }) => `${tag} -> ${r.revision_id} (${r.bundle_id} @${r.sequence})`);
}

function describeDeployment(d: BundleDeployment): string {
  return `${d.deployment_id} (bundle ${d.bundle_id}, customer ${d.customer_id})`;
}

function ambiguous(what: string, label: string, ref: string, candidates: string[], hint: string): GreenticError {
  return new GreenticError(
    "invalid-argument",
    `${label}: ${quote(ref)} matches ${candidates.length} ${what}s: ${candidates.join(", ")}`,
    { path: label, hint, details: { reference: ref, candidates } },
  );
}

/**
 * Resolves a deployment reference in a loaded environment: a full id (any case), a unique id
 * prefix, or a bundle id naming exactly one deployment.
 */
export function resolveDeploymentRef(env: Environment, ref: string, origin: RefOrigin = {}): BundleDeployment {
  const label = origin.label ?? "deployment";
  const value = ref.trim();
  const upper = value.toUpperCase();
  const byId = env.bundles.find((b) => b.deployment_id === upper);
  if (byId !== undefined) return byId;
  const byBundle = env.bundles.filter((b) => b.bundle_id === value);
  const byPrefix =
    upper.length >= MIN_PREFIX && PREFIX_PATTERN.test(upper)
      ? env.bundles.filter((b) => b.deployment_id.startsWith(upper))
      : [];
  const matches = [...new Set([...byBundle, ...byPrefix])];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw ambiguous(
      "deployment",
      label,
      ref,
      matches.map(describeDeployment),
      "name the deployment by its id (or a longer prefix of it); `op bundles list` shows them",
    );
  }
  throw new GreenticError("not-found", `${label}: no deployment ${quote(ref)} in environment ${env.environment_id}`, {
    path: label,
    hint:
      env.bundles.length === 0
        ? "add a bundle first with `op bundles add` (or `op deploy`)"
        : `deployments here: ${env.bundles.map(describeDeployment).join(", ")}`,
    details: { reference: ref },
  });
}

/**
 * The deployment a command means when none was named: the one the given revisions belong to,
 * else the environment's only deployment. Several candidates is `invalid-argument` naming them.
 */
export function defaultDeployment(
  env: Environment,
  options: { revisions?: readonly Revision[]; label?: string } = {},
): BundleDeployment {
  const label = options.label ?? "deployment";
  const owning = [...new Set((options.revisions ?? []).map((r) => r.deployment_id))];
  if (owning.length === 1) return env.bundles.find((b) => b.deployment_id === owning[0])!;
  if (owning.length > 1) {
    throw new GreenticError(
      "invalid-argument",
      `the revisions belong to ${owning.length} different deployments: ${owning.join(", ")}`,
      { path: label, hint: "name revisions of one deployment only" },
    );
  }
  if (env.bundles.length === 1) return env.bundles[0]!;
  if (env.bundles.length === 0) {
    throw new GreenticError("not-found", `environment ${env.environment_id} has no deployments`, {
      path: label,
      hint: "add a bundle first with `op bundles add` (or `op deploy`)",
    });
  }
  const candidates = env.bundles.map(describeDeployment);
  throw new GreenticError(
    "invalid-argument",
    `${label} is needed: environment ${env.environment_id} has ${candidates.length} deployments: ${candidates.join(", ")}`,
    {
      path: label,
      hint: `pass ${label} with a deployment id, a unique prefix of one, or a bundle id`,
      details: { candidates },
    },
  );
}

/** Revisions of `deploymentId` that are not archived, by ascending sequence. */
function liveRevisions(env: Environment, deploymentId: string): Revision[] {
  return env.revisions
    .filter((r) => r.deployment_id === deploymentId && r.lifecycle !== "archived")
    .sort((a, b) => a.sequence - b.sequence);
}

/**
 * Resolves a revision reference (see {@link MIN_PREFIX}'s comment for the forms) in a loaded
 * environment. `deployment` scopes the search; the sequence and word forms need one and use
 * {@link defaultDeployment} when it is absent.
 */
export function resolveRevisionRef(
  env: Environment,
  ref: string,
  options: RefOrigin & { deployment?: BundleDeployment | undefined; deploymentLabel?: string | undefined } = {},
): Revision {
  const label = options.label ?? "revision";
  const query = parseRevisionRef(ref, { label });
  const scope = options.deployment;
  const inScope = (r: Revision) => scope === undefined || r.deployment_id === scope.deployment_id;
  const where = scope === undefined ? `environment ${env.environment_id}` : `deployment ${scope.deployment_id}`;
  const notFound = (why: string, hint = "list revisions with `op revisions list`") =>
    new GreenticError("not-found", `${label}: ${why}`, { path: label, hint, details: { reference: ref } });

  if (query.kind === "id") {
    const r = env.revisions.find((x) => x.revision_id === query.id && inScope(x));
    if (r === undefined) throw notFound(`revision ${query.id} does not exist in ${where}`);
    return r;
  }
  if (query.kind === "tag") {
    const scoped = env.revisions.filter(inScope);
    const matches = scoped.filter((x) => (x.tags ?? []).includes(query.tag));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1)
      throw ambiguous(
        "revision",
        label,
        ref,
        matches.map((r) => `${describeRevision(r)} of deployment ${r.deployment_id}`),
        `revisions of each of these deployments are tagged ${query.tag}: name the deployment (--deployment), or use the revision id`,
      );
    const known = describeTags(scoped);
    throw new GreenticError(
      "invalid-argument",
      `${label}: ${quote(ref)} is not a revision reference: no revision is tagged ${quote(query.tag)} in ${where}`,
      {
        path: label,
        hint:
          known.length === 0
            ? `no revision there has any; give one this name with \`op revisions tag REV ${query.tag}\`, or name the revision by id, @N, latest, previous or stable`
            : `tags there: ${known.join(", ")}`,
        details: { reference: ref, candidates: known },
      },
    );
  }
  if (query.kind === "prefix") {
    const matches = env.revisions.filter((x) => x.revision_id.startsWith(query.prefix) && inScope(x));
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) throw notFound(`no revision id starts with ${query.prefix} in ${where}`);
    throw ambiguous(
      "revision",
      label,
      ref,
      matches.map(describeRevision),
      "give more characters of the id, or @N with the sequence number",
    );
  }
  const deployment = scope ?? defaultDeployment(env, { label: options.deploymentLabel ?? "--deployment" });
  const live = liveRevisions(env, deployment.deployment_id);
  if (query.kind === "sequence") {
    const r = env.revisions.find((x) => x.deployment_id === deployment.deployment_id && x.sequence === query.sequence);
    if (r === undefined)
      throw notFound(
        `deployment ${deployment.deployment_id} (${deployment.bundle_id}) has no revision @${query.sequence}`,
      );
    return r;
  }
  if (query.word === "latest" || query.word === "previous") {
    const r = query.word === "latest" ? live.at(-1) : live.at(-2);
    if (r === undefined)
      throw notFound(
        `deployment ${deployment.deployment_id} (${deployment.bundle_id}) has ${live.length === 0 ? "no revision that is not archived" : "only one revision that is not archived"}, so none is ${query.word}`,
      );
    return r;
  }
  // stable: the revision holding the most traffic.
  const split = env.traffic_splits.find((s) => s.deployment_id === deployment.deployment_id);
  const top = Math.max(0, ...(split?.entries.map((e) => e.weight_bps) ?? []));
  const holders = (split?.entries ?? []).filter((e) => e.weight_bps === top && top > 0);
  if (holders.length === 0)
    throw notFound(
      `deployment ${deployment.deployment_id} (${deployment.bundle_id}) sends no traffic anywhere, so no revision is stable`,
      "set a split with `op traffic set` (or deploy)",
    );
  const revisions = holders.map((h) => env.revisions.find((r) => r.revision_id === h.revision_id)!);
  if (revisions.length > 1)
    throw ambiguous(
      "revision",
      label,
      ref,
      revisions.map(describeRevision),
      "several revisions hold the most traffic: name one by @N or its id",
    );
  return revisions[0]!;
}

/** What {@link resolveReferences} is asked to resolve. */
export interface ReferenceRequest {
  /** A deployment reference, if one was given. */
  deployment?: string | undefined;
  /** Revision references to resolve (in order). */
  revisions?: readonly string[] | undefined;
  /** Resolve the deployment even when no revision and no reference were given (for verbs that need one). */
  needDeployment?: boolean | undefined;
  /** Labels for messages: what the user typed each in. */
  deploymentLabel?: string | undefined;
  revisionLabels?: readonly string[] | undefined;
}

/** Resolved ids, in the order asked. */
export interface ResolvedReferences {
  environment_id: string;
  deployment_id?: string;
  revision_ids: string[];
}

/**
 * Resolves deployment and revision references against the stored environment (one read).
 * A full, canonical id is returned as is only when it exists, so that a typo is `not-found`.
 */
export async function resolveReferences(
  ctx: OperationsContext,
  envId: string,
  request: ReferenceRequest,
): Promise<ResolvedReferences> {
  const id = checkEnvArgument(envId);
  const refs = request.revisions ?? [];
  const labels = request.revisionLabels ?? [];
  const deploymentLabel = request.deploymentLabel ?? "deployment";
  // Syntax first: a malformed reference is refused before anything is read.
  refs.forEach((ref, i) => parseRevisionRef(ref, { label: labels[i] ?? "revision" }));
  const { environment } = await ctx.store.load(id);
  let deployment =
    request.deployment === undefined
      ? undefined
      : resolveDeploymentRef(environment, request.deployment, { label: deploymentLabel });
  // Id-like references and tags first: they can tell which deployment the word forms are about.
  const resolved: (Revision | undefined)[] = refs.map((ref, i) => {
    const q = parseRevisionRef(ref, { label: labels[i] ?? "revision" });
    return q.kind === "id" || q.kind === "prefix" || q.kind === "tag"
      ? resolveRevisionRef(environment, ref, { label: labels[i] ?? "revision", deployment })
      : undefined;
  });
  const needsScope = resolved.some((r) => r === undefined);
  if (deployment === undefined && (needsScope || request.needDeployment === true)) {
    deployment = defaultDeployment(environment, {
      revisions: resolved.filter((r): r is Revision => r !== undefined),
      label: deploymentLabel,
    });
  }
  const revisionIds = refs.map(
    (ref, i) =>
      (
        resolved[i] ??
        resolveRevisionRef(environment, ref, { label: labels[i] ?? "revision", deployment, deploymentLabel })
      ).revision_id,
  );
  const out: ResolvedReferences = { environment_id: id, revision_ids: revisionIds };
  if (deployment !== undefined) out.deployment_id = deployment.deployment_id;
  return out;
}
