import { checkPackDescriptor } from "./descriptor.js";
import { EnvironmentSchema, type Environment } from "./documents.js";
import type { ValidationIssue } from "./errors.js";
import { parseSecretRef } from "./refs.js";
import { bindsInPacks } from "./slots.js";
import { parseDocument, summarizeIssues, type ParseResult } from "./validation.js";

/**
 * Validates a whole environment: the schema first, then (only when the schema passes) every
 * cross-reference rule of the reference. Returns the issues; an empty list means valid.
 * Lifecycle checks (split entries must be `ready`) are left to the verbs, as in the reference.
 */
export function validateEnvironment(input: unknown): ValidationIssue[] {
  const parsed = parseDocument(EnvironmentSchema, input);
  if (!parsed.ok) return parsed.issues;
  return crossReferenceIssues(parsed.value);
}

/** {@link validateEnvironment} returning the parsed value or the issues with a one-line summary. */
export function parseEnvironment(input: unknown, options: { source?: string } = {}): ParseResult<Environment> {
  const parsed = parseDocument(EnvironmentSchema, input, options);
  if (!parsed.ok) return parsed;
  const issues = crossReferenceIssues(parsed.value);
  if (issues.length === 0) return parsed;
  return { ok: false, issues, summary: summarizeIssues(issues, options.source) };
}

/** The cross-reference rules alone, for an environment that already passed its schema. */
export function crossReferenceIssues(env: Environment): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (path: string, code: string, message: string): void => {
    issues.push({ path, code, message });
  };
  const envId = env.environment_id;
  const checkEnv = (path: string, value: string, what: string): void => {
    if (value !== envId)
      add(
        path,
        "env-id-mismatch",
        `${what} belongs to environment ${JSON.stringify(value)}, not ${JSON.stringify(envId)}`,
      );
  };
  const checkSecretScope = (path: string, ref: string): void => {
    const parsed = parseSecretRef(ref);
    if (parsed && parsed.env !== envId)
      add(
        path,
        "cross-env-ref",
        `secret reference ${JSON.stringify(ref)} points at environment ${JSON.stringify(parsed.env)}, not ${JSON.stringify(envId)}`,
      );
  };

  checkEnv("host_config.env_id", env.host_config.env_id, "host_config");
  if (env.credentials_ref !== undefined) checkSecretScope("credentials_ref", env.credentials_ref);

  const slots = new Map<string, number>();
  env.packs.forEach((binding, i) => {
    if (!bindsInPacks(binding.slot)) {
      add(
        `packs.${i}.slot`,
        "not-pack-slot",
        `slot ${binding.slot} is not bound through packs (it has its own collection)`,
      );
    }
    const earlier = slots.get(binding.slot);
    if (earlier !== undefined)
      add(
        `packs.${i}.slot`,
        "duplicate-capability-slot",
        `slot ${binding.slot} is bound twice (packs ${earlier} and ${i})`,
      );
    else slots.set(binding.slot, i);
  });

  const revisions = new Map<string, Environment["revisions"][number]>();
  env.revisions.forEach((rev, i) => {
    checkEnv(`revisions.${i}.env_id`, rev.env_id, `revision ${rev.revision_id}`);
    if (revisions.has(rev.revision_id))
      add(`revisions.${i}.revision_id`, "duplicate-revision", `revision ${rev.revision_id} appears twice`);
    else revisions.set(rev.revision_id, rev);
  });

  // A tag names one revision of a deployment (tags are ours, not the reference's).
  const tagged = new Map<string, string>();
  env.revisions.forEach((rev, i) => {
    (rev.tags ?? []).forEach((tag, j) => {
      const key = `${rev.deployment_id}\u0000${tag}`;
      const holder = tagged.get(key);
      if (holder === undefined) tagged.set(key, rev.revision_id);
      else
        add(
          `revisions.${i}.tags.${j}`,
          "duplicate-tag",
          holder === rev.revision_id
            ? `revision ${rev.revision_id} has tag ${JSON.stringify(tag)} twice`
            : `tag ${JSON.stringify(tag)} is on revisions ${holder} and ${rev.revision_id} of deployment ${rev.deployment_id}`,
        );
    });
  });

  const deployments = new Map<string, Environment["bundles"][number]>();
  const bundleCustomer = new Set<string>();
  env.bundles.forEach((bundle, i) => {
    const at = `bundles.${i}`;
    checkEnv(`${at}.env_id`, bundle.env_id, `bundle deployment ${bundle.deployment_id}`);
    if (deployments.has(bundle.deployment_id))
      add(`${at}.deployment_id`, "duplicate-deployment", `deployment ${bundle.deployment_id} appears twice`);
    else deployments.set(bundle.deployment_id, bundle);
    const pair = JSON.stringify([bundle.bundle_id, bundle.customer_id]);
    if (bundleCustomer.has(pair))
      add(
        at,
        "duplicate-bundle-customer",
        `bundle ${JSON.stringify(bundle.bundle_id)} is deployed twice for customer ${JSON.stringify(bundle.customer_id)}`,
      );
    bundleCustomer.add(pair);
  });

  env.revisions.forEach((rev, i) => {
    const dep = deployments.get(rev.deployment_id);
    if (!dep)
      add(
        `revisions.${i}.deployment_id`,
        "unknown-deployment",
        `revision ${rev.revision_id} belongs to deployment ${rev.deployment_id}, which does not exist`,
      );
    else if (dep.bundle_id !== rev.bundle_id)
      add(
        `revisions.${i}.bundle_id`,
        "revision-deployment-bundle-mismatch",
        `revision ${rev.revision_id} has bundle ${JSON.stringify(rev.bundle_id)} but its deployment has bundle ${JSON.stringify(dep.bundle_id)}`,
      );
  });

  env.bundles.forEach((bundle, i) => {
    const at = `bundles.${i}`;
    bundle.current_revisions.forEach((rid, j) => {
      const rev = revisions.get(rid);
      if (!rev)
        add(
          `${at}.current_revisions.${j}`,
          "unknown-revision",
          `deployment ${bundle.deployment_id} lists revision ${rid}, which does not exist`,
        );
      else if (rev.deployment_id !== bundle.deployment_id)
        add(
          `${at}.current_revisions.${j}`,
          "bundle-revision-wrong-deployment",
          `revision ${rid} belongs to deployment ${rev.deployment_id}, not ${bundle.deployment_id}`,
        );
      else if (rev.bundle_id !== bundle.bundle_id)
        add(
          `${at}.current_revisions.${j}`,
          "bundle-revision-wrong-bundle",
          `revision ${rid} is of bundle ${JSON.stringify(rev.bundle_id)}, not ${JSON.stringify(bundle.bundle_id)}`,
        );
    });
    if (bundle.config_overrides !== undefined) {
      // Pack ids are checked against the live revisions' pack lists; with none yet, anything goes.
      const known = new Set<string>();
      for (const rev of env.revisions) {
        if (rev.deployment_id === bundle.deployment_id && rev.lifecycle !== "archived")
          for (const p of rev.pack_list) known.add(p.pack_id);
      }
      if (known.size > 0) {
        for (const pack of Object.keys(bundle.config_overrides)) {
          if (!known.has(pack))
            add(
              `${at}.config_overrides.${pack}`,
              "config-override-pack-not-in-revisions",
              `config override for pack ${JSON.stringify(pack)}, which no live revision of deployment ${bundle.deployment_id} contains (known: ${[...known].sort().join(", ")})`,
            );
        }
      }
    }
  });

  const splitDeployments = new Set<string>();
  env.traffic_splits.forEach((split, i) => {
    const at = `traffic_splits.${i}`;
    checkEnv(`${at}.env_id`, split.env_id, `traffic split of deployment ${split.deployment_id}`);
    if (splitDeployments.has(split.deployment_id))
      add(
        `${at}.deployment_id`,
        "duplicate-split",
        `deployment ${split.deployment_id} has more than one traffic split`,
      );
    splitDeployments.add(split.deployment_id);
    const dep = deployments.get(split.deployment_id);
    if (!dep) {
      add(
        `${at}.deployment_id`,
        "unknown-deployment",
        `traffic split references deployment ${split.deployment_id}, which does not exist`,
      );
    } else if (dep.bundle_id !== split.bundle_id) {
      add(
        `${at}.bundle_id`,
        "split-deployment-bundle-mismatch",
        `traffic split has bundle ${JSON.stringify(split.bundle_id)} but deployment ${split.deployment_id} has bundle ${JSON.stringify(dep.bundle_id)}`,
      );
    }
    split.entries.forEach((entry, j) => {
      const rev = revisions.get(entry.revision_id);
      const p = `${at}.entries.${j}.revision_id`;
      if (!rev)
        add(p, "unknown-revision", `traffic split references revision ${entry.revision_id}, which does not exist`);
      else if (rev.deployment_id !== split.deployment_id)
        add(
          p,
          "split-revision-wrong-deployment",
          `revision ${entry.revision_id} belongs to deployment ${rev.deployment_id}, not ${split.deployment_id}`,
        );
      else if (rev.bundle_id !== split.bundle_id)
        add(
          p,
          "split-revision-wrong-bundle",
          `revision ${entry.revision_id} is of bundle ${JSON.stringify(rev.bundle_id)}, not ${JSON.stringify(split.bundle_id)}`,
        );
    });
  });

  const bundleIds = new Set(env.bundles.map((b) => b.bundle_id));
  const endpointIds = new Set<string>();
  const providers = new Set<string>();
  env.messaging_endpoints.forEach((ep, i) => {
    const at = `messaging_endpoints.${i}`;
    checkEnv(`${at}.env_id`, ep.env_id, `messaging endpoint ${ep.endpoint_id}`);
    if (endpointIds.has(ep.endpoint_id))
      add(`${at}.endpoint_id`, "duplicate-messaging-endpoint", `messaging endpoint ${ep.endpoint_id} appears twice`);
    endpointIds.add(ep.endpoint_id);
    const provider = JSON.stringify([ep.provider_type, ep.provider_id]);
    if (providers.has(provider))
      add(
        at,
        "duplicate-provider-instance",
        `provider ${ep.provider_type}/${ep.provider_id} has more than one endpoint`,
      );
    providers.add(provider);
    ep.secret_refs.forEach((ref, j) => checkSecretScope(`${at}.secret_refs.${j}`, ref));
    if (ep.webhook_secret_ref !== undefined) checkSecretScope(`${at}.webhook_secret_ref`, ep.webhook_secret_ref);
    ep.linked_bundles.forEach((b, j) => {
      if (!bundleIds.has(b))
        add(
          `${at}.linked_bundles.${j}`,
          "messaging-endpoint-bundle-not-linked",
          `messaging endpoint links bundle ${JSON.stringify(b)}, which is not deployed in this environment`,
        );
    });
    if (ep.welcome_flow !== undefined && !ep.linked_bundles.includes(ep.welcome_flow.bundle_id)) {
      add(
        `${at}.welcome_flow.bundle_id`,
        "welcome-flow-bundle-not-linked",
        `welcome flow bundle ${JSON.stringify(ep.welcome_flow.bundle_id)} is not among the endpoint's linked bundles`,
      );
    }
  });

  const extensionKeys = new Set<string>();
  env.extensions.forEach((ext, i) => {
    const parsed = checkPackDescriptor(ext.kind);
    const key = JSON.stringify([parsed.ok ? parsed.value.path : ext.kind, ext.instance_id ?? null]);
    if (extensionKeys.has(key))
      add(
        `extensions.${i}`,
        "duplicate-extension",
        `extension ${ext.kind}${ext.instance_id === undefined ? "" : ` instance ${ext.instance_id}`} is bound twice`,
      );
    extensionKeys.add(key);
  });

  return issues;
}
