import { z } from "zod";
import { ANSWERS_SCHEMAS, type AnswersVerb } from "./answers.js";
import { DeploymentSpecSchema } from "./deployment-spec.js";
import {
  AuditEventSchema,
  BackupArtifactSchema,
  BackupManifestSchema,
  BundleDeploymentSchema,
  CredentialsSchema,
  EnvironmentRuntimeSchema,
  EnvironmentSchema,
  MessagingEndpointSchema,
  PackConfigSchema,
  PackListLockSchema,
  RevenuePolicyDocumentSchema,
  RevisionSchema,
  RuntimeConfigSchema,
  TrafficSplitSchema,
} from "./documents.js";

/** Stored and exchanged documents that have a committed JSON Schema, by file stem. */
export const DOCUMENT_SCHEMAS = {
  environment: EnvironmentSchema,
  "environment-runtime": EnvironmentRuntimeSchema,
  revision: RevisionSchema,
  "traffic-split": TrafficSplitSchema,
  "bundle-deployment": BundleDeploymentSchema,
  credentials: CredentialsSchema,
  "runtime-config": RuntimeConfigSchema,
  "audit-event": AuditEventSchema,
  "backup-manifest": BackupManifestSchema,
  "backup-artifact": BackupArtifactSchema,
  "pack-config": PackConfigSchema,
  "pack-list-lock": PackListLockSchema,
  "messaging-endpoint": MessagingEndpointSchema,
  "revenue-policy": RevenuePolicyDocumentSchema,
  "deployment-spec": DeploymentSpecSchema,
} as const;

/** File stem of an answers schema: `"traffic set"` -> `answers-traffic-set`. */
export function answersSchemaName(verb: AnswersVerb): `answers-${string}` {
  return `answers-${verb.replaceAll(" ", "-")}`;
}

/** Every name {@link jsonSchemaFor} accepts (the file stems under `schemas/`), sorted. */
export const JSON_SCHEMA_NAMES: readonly string[] = [
  ...Object.keys(DOCUMENT_SCHEMAS),
  ...(Object.keys(ANSWERS_SCHEMAS) as AnswersVerb[]).map(answersSchemaName),
].sort();

const BASE_ID = "https://schemas.greentic.ai/deploy-spec/";

function lookup(name: string): z.ZodType | undefined {
  if (Object.hasOwn(DOCUMENT_SCHEMAS, name)) return DOCUMENT_SCHEMAS[name as keyof typeof DOCUMENT_SCHEMAS];
  if (Object.hasOwn(ANSWERS_SCHEMAS, name)) return ANSWERS_SCHEMAS[name as AnswersVerb];
  const verb = (Object.keys(ANSWERS_SCHEMAS) as AnswersVerb[]).find((v) => answersSchemaName(v) === name);
  return verb === undefined ? undefined : ANSWERS_SCHEMAS[verb];
}

/**
 * The JSON Schema (2020-12) of a document or answers payload, as a user writes it (fields
 * with defaults are optional). `name` is a file stem (`environment`, `answers-traffic-set`)
 * or an answers verb (`"traffic set"`). Returns a fresh object; undefined for unknown names.
 */
export function jsonSchemaFor(name: string): Record<string, unknown> | undefined {
  const schema = lookup(name);
  if (schema === undefined) return undefined;
  const stem = Object.hasOwn(ANSWERS_SCHEMAS, name) ? answersSchemaName(name as AnswersVerb) : name;
  const { $schema, ...rest } = z.toJSONSchema(schema, { io: "input" }) as Record<string, unknown>;
  return { $schema, $id: `${BASE_ID}${stem}.schema.json`, title: stem, ...rest };
}
