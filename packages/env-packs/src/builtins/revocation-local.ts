import { join } from "node:path";
import { GreenticError } from "@greentic/deploy-spec/documents";
import { readJsonFile, writeJsonFile } from "../fs-utils.js";
import type { EnvPackHandler, HandlerContext, RevocationEntry } from "../types.js";

const SCHEMA = "greentic.revocation-list.v1";

/** The list's file; `create: false` for readers, which never create the data directory. */
async function listFile(ctx: HandlerContext, options: { create?: boolean } = {}): Promise<string> {
  return join(await ctx.dataDir("revocation", options), "revocations.json");
}

async function readEntries(file: string): Promise<RevocationEntry[]> {
  const doc = (await readJsonFile(file)) as { schema?: unknown; entries?: RevocationEntry[] } | undefined;
  if (doc === undefined) return [];
  if (doc.schema !== SCHEMA || !Array.isArray(doc.entries)) {
    throw new GreenticError("integrity", `${file} is not a ${SCHEMA} document`, {
      path: file,
      hint: "restore the file from a backup or remove it (this forgets every revocation)",
    });
  }
  return doc.entries;
}

/** `greentic.revocation.local`: a revocation list kept in the environment's data area. */
export function localRevocationHandler(): EnvPackHandler {
  return {
    slot: "revocation",
    descriptorPath: "greentic.revocation.local",
    supportedVersions: "^0.1.0",
    description: "A local revocation list (revoked keys, certificates, tokens) in the environment's data directory.",
    revocation: {
      async revoke(ctx, subject, reason) {
        if (subject.trim() === "") {
          throw new GreenticError("invalid-argument", "revocation subject is empty", {
            hint: "name the key id, fingerprint or token id to revoke",
          });
        }
        const file = await listFile(ctx);
        const entries = await readEntries(file);
        const existing = entries.find((entry) => entry.subject === subject);
        if (existing !== undefined) return existing;
        const entry: RevocationEntry = {
          subject,
          revoked_at: new Date().toISOString(),
          ...(reason === undefined ? {} : { reason }),
        };
        await writeJsonFile(file, { schema: SCHEMA, entries: [...entries, entry] });
        return entry;
      },
      async isRevoked(ctx, subject) {
        return (await readEntries(await listFile(ctx, { create: false }))).some((entry) => entry.subject === subject);
      },
      async list(ctx) {
        return readEntries(await listFile(ctx, { create: false }));
      },
    },
  };
}
